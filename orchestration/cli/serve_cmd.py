"""Placeholder: replaced by the module that implements these commands."""

import click


@click.command()
def serve() -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")


@click.command()
def keys() -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")
