"""`python -m marketplace.aggregator`: what `tessera aggregator` runs."""

from marketplace.aggregator.cli import command

command(prog_name="aggregator")
