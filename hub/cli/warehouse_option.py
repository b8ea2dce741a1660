"""``--warehouse URL``, the same on every command that reads or writes the warehouse (run, sql, serve, quality)."""

from __future__ import annotations

from typing import Any

import click

from hub.core.warehouse import Warehouse


def _to_warehouse(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Warehouse:
    try:
        return Warehouse.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--warehouse") from None


def warehouse_option(help_extra: str = "") -> Any:
    """The option; the command receives a ``Warehouse`` (DuckDB when neither the option nor HUB_WAREHOUSE is set)."""
    return click.option(
        "--warehouse", envvar="HUB_WAREHOUSE", default=None, metavar="URL", callback=_to_warehouse,
        help="数仓 / warehouse: postgresql://user:pass@host:port/db (default: $HUB_WAREHOUSE, else DuckDB in the "
             "data directory)" + (f"; {help_extra}" if help_extra else ""),
    )
