"""Quoting of SQL identifiers and string literals: the one place the project builds them."""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """A double-quoted identifier; callers check names from a request against the catalog first."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
