"""`python -m provider`: what `tessera provider` runs."""

from provider.cli import provider

provider(prog_name="provider")
