"""`python -m localnet`: what `tessera localnet` runs."""

from localnet.cli import command

command(prog_name="localnet")
