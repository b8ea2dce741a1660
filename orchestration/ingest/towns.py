"""The town reference's aliases (``hub.core.towns``) as a temp table for the validator."""

from __future__ import annotations

import duckdb

from hub.core.towns import TOWN_ALIASES_SEED

TOWN_ALIASES_TABLE = "ingest_town_aliases"


def ensure_town_aliases(con: duckdb.DuckDBPyConnection) -> None:
    """Load every name variant and old code → town_code into a temp table (once per connection)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {TOWN_ALIASES_TABLE} AS "
        "SELECT trim(alias) AS alias, trim(town_code) AS town_code "
        "FROM read_csv(?, header = true, all_varchar = true)",
        [str(TOWN_ALIASES_SEED)],
    )
