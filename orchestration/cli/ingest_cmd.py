"""Placeholder: replaced by the module that implements these commands."""

import click


@click.command()
def ingest() -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")
