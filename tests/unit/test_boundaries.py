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
