"""Placeholder: replaced by the module that implements these commands."""

import click


@click.command()
def run() -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")


@click.command()
def sql() -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")


@click.command()
def demo() -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")
