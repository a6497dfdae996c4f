"""Package boundaries: light imports for agents, complete public APIs."""

from __future__ import annotations

import subprocess
import sys

import localnet
import marketplace.chain


def test_client_import_pulls_in_no_ml_stack():
    code = "import sys, client, client.cli; heavy = {'torch', 'transformers'} & set(sys.modules); print(sorted(heavy))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_public_api_is_complete():
    for module in (marketplace.chain, localnet):
        exported = set(module.__all__)
        public = {name for name in vars(module) if not name.startswith("_")} - {"annotations"}
        submodules = {name for name, value in vars(module).items() if type(value).__name__ == "module"}
        assert public - submodules <= exported, f"{module.__name__} exports too little: {public - submodules - exported}"
        assert all(hasattr(module, name) for name in exported)


def test_the_ml_stack_is_the_provider_extra_only():
    """`pip install tessera` gives an agent the SDK and CLI without torch; `tessera[provider]` runs models."""
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    heavy = {"torch", "transformers", "gguf", "accelerate"}
    requirements = [Requirement(r) for r in requires("tessera")]
    base = {r.name for r in requirements if r.marker is None}
    provider_extra = {r.name for r in requirements if r.marker is not None and r.marker.evaluate({"extra": "provider"})}
    assert not heavy & base, sorted(heavy & base)
    assert heavy <= provider_extra


def test_a_command_that_runs_models_without_the_provider_extra_says_how_to_get_it():
    """torch hidden from the interpreter, as after `pip install tessera` without the extra."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "from provider.cli import provider\n"
            "provider(['digest', 'smollm2-135m-instruct'], prog_name='provider')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert "pip install 'tessera[provider]'" in done.stderr and "Traceback" not in done.stderr
