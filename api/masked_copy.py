"""The serving snapshot as roles without access to personal data see it, for their SQL.

Masking the *results* of arbitrary SQL cannot be made safe: a query can rebuild a name in too many ways
(casts, struct access, string functions). So SQL from those roles runs on a copy of the snapshot in which
every personal column (``api.masking.MASK_RULES``) is already masked: the names are not in the file.
The copy is made once per snapshot, by whichever API process opens that snapshot first, under
``HubPaths.api_dir / "masked"``; copies of snapshots that are gone are removed then.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb

from api.masking import MASK_RULES, MaskKind, mask_name, mask_phone, mask_text
from hub.core.quoting import quote_ident, sql_literal

MASK_FUNCTIONS = {MaskKind.NAME: mask_name, MaskKind.PHONE: mask_phone, MaskKind.TEXT: mask_text}


def write_masked_tables(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Copy every table of ``source``'s main schema into ``con``'s, personal columns masked on the way,
    so the copy never holds a name (an UPDATE in place would leave the old values in free blocks)."""
    for kind, function in MASK_FUNCTIONS.items():
        con.create_function(f"hub_mask_{kind.value}", function, [duckdb.sqltype("VARCHAR")],
                            duckdb.sqltype("VARCHAR"))
    columns: dict[str, list[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' "
        "ORDER BY table_name, column_index", [source],
    ).fetchall():
        columns.setdefault(table, []).append(column)
    for table, names in columns.items():
        select = ", ".join(
            f"hub_mask_{MASK_RULES[c].kind.value}({quote_ident(c)}) AS {quote_ident(c)}" if c in MASK_RULES
            else quote_ident(c)
            for c in names
        )
        name = quote_ident(table)
        con.execute(f"CREATE TABLE main.{name} AS SELECT {select} FROM {quote_ident(source)}.main.{name}")


def rules_fingerprint() -> str:
    """Which rules a copy was made with: a copy made before a column was added to MASK_RULES is not reused."""
    text = "\n".join(f"{name}={rule.kind.value}" for name, rule in sorted(MASK_RULES.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def masked_copy(snapshot: Path, api_dir: Path) -> Path:
    """The masked copy of ``snapshot`` under the current rules (made now if missing); stale copies (of
    snapshots that are gone, or made under other rules) are removed."""
    root = api_dir / "masked"
    folder = root / rules_fingerprint()
    target = folder / snapshot.name
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / f".{snapshot.name}.{os.getpid()}.tmp"
        temp.unlink(missing_ok=True)
        try:
            con = duckdb.connect(str(temp))
            try:
                con.execute(f"ATTACH {sql_literal(str(snapshot))} AS hub_snapshot (READ_ONLY)")
                write_masked_tables(con, "hub_snapshot")
                con.execute("DETACH hub_snapshot")
                con.execute("CHECKPOINT")
            finally:
                con.close()
            os.replace(temp, target)  # several API workers may race here: each writes the same content
        finally:
            temp.unlink(missing_ok=True)
            Path(f"{temp}.wal").unlink(missing_ok=True)
    for stale in root.rglob("*.duckdb"):
        if stale.parent != folder or not (snapshot.parent / stale.name).exists():
            stale.unlink(missing_ok=True)
    return target


