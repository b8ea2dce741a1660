"""Publish on a PostgreSQL server: a versioned copy of the published models, switched in one transaction.

Each publish copies the published models (orchestration.publish.published_models) from the build schema
(``main``) into a new schema ``serving_v<timestamp>``, with the same ``_tables`` and ``_snapshot`` tables as a
DuckDB snapshot. Then one transaction replaces the views of the two stable schemas readers use:

- ``serving``: one view per table, ``SELECT *`` of the new version (read by role ``hub_read_full``:
  the API roles that see personal data, staff and admin);
- ``serving_masked``: the same views with personal columns masked in SQL (read by role ``hub_read_masked``:
  analysts and their SQL), with the API's rules: a name keeps its first character (``孙某艳`` → ``孙**``), a
  phone number its first 3 and last 4 digits, a text its quoted names and phone numbers masked.

A reader sees the old version or the new one, never a mix: PostgreSQL's DDL is transactional, and a view is
dropped and created again under a lock that waits for the queries reading it. A publish that dies before the
switch leaves a version schema nobody reads; the next publish drops it with the versions beyond ``keep``.
Neither role can read a version schema directly (views run with their owner's rights), so an analyst can
reach no unmasked column.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from hub.core.quoting import quote_ident, sql_literal
from hub.core.serving_server import READ_FULL, READ_MASKED, SERVING, SERVING_MASKED, VERSION_PREFIX
from orchestration.publish import LabelSource, PublishedModel, SnapshotCatalog, catalog_columns

KEEP_VERSIONS = 3

# Column masks (the kinds of api.masking.MaskKind): a SQL expression of the column value.
_CJK = "[一-龥·]"
_QUOTED = r"((联络员|网格员|责任人)\s*([A-Za-z]{1,4}[0-9]{2,}\s*)?)"
_PHONE = r"(?<![0-9])(1[3-9][0-9])([0-9]{4})([0-9]{4})(?![0-9])"


def mask_sql(kind: str, column: str) -> str:
    if kind == "name":
        return f"(left({column}, 1) || repeat('*', greatest(1, char_length({column}) - 1)))"
    if kind == "phone":
        return (f"(case when {column} ~ '{_PHONE}' then regexp_replace({column}, '{_PHONE}', '\\1****\\3', 'g') "
                f"else repeat('*', char_length({column})) end)")
    if kind == "text":
        # quoted names of 4, 3 and 2 characters (the API's greedy {{2,4}}), then phone numbers
        masked = column
        for length in (4, 3, 2):
            masked = (f"regexp_replace({masked}, '{_QUOTED}({_CJK})({_CJK}{{{length - 1}}})', "
                      f"'\\1\\4{'*' * (length - 1)}', 'g')")
        return f"regexp_replace({masked}, '{_PHONE}', '\\1****\\3', 'g')"
    raise ValueError(f"unknown mask kind {kind!r}")


@dataclass(frozen=True)
class ServerPublishResult:
    version: str
    row_counts: dict[str, int]
    built_at: datetime
    as_of: date | None


def _columns(cur: Any, schema: str, table: str) -> list[tuple[str, str]]:
    cur.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "ORDER BY ordinal_position",
        (schema, table),
    )
    return [(r[0], r[1]) for r in cur.fetchall()]


def ensure_roles(cur: Any) -> None:
    """The read-only group roles (NOLOGIN; grant them to login roles) and the two stable schemas."""
    for role in (READ_FULL, READ_MASKED):
        cur.execute(f"SELECT 1 FROM pg_roles WHERE rolname = {sql_literal(role)}")
        if cur.fetchone() is None:
            cur.execute(f"CREATE ROLE {role} NOLOGIN")
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {SERVING}")
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {SERVING_MASKED}")
    cur.execute(f"GRANT USAGE ON SCHEMA {SERVING} TO {READ_FULL}")
    cur.execute(f"GRANT USAGE ON SCHEMA {SERVING_MASKED} TO {READ_MASKED}")
    cur.execute(f"REVOKE ALL ON SCHEMA {SERVING}, {SERVING_MASKED} FROM PUBLIC")


def publish_on_server(url: str, models: Sequence[PublishedModel], masked_columns: Mapping[str, str],
                      as_of: date | None = None, build_schema: str = "main",
                      keep: int = KEEP_VERSIONS) -> ServerPublishResult:
    """Copy ``models`` into a new version schema and switch ``serving`` / ``serving_masked`` to it.
    ``masked_columns``: column name → mask kind (name, phone, text)
    (hub.core.personal_data.masked_column_kinds())."""
    import psycopg

    if not models:
        raise ValueError("dbt 项目中没有标记为 published 的模型 / no model in the dbt project is tagged 'published'")
    built_at = datetime.now().replace(microsecond=0)
    version = f"{VERSION_PREFIX}{datetime.now():%Y%m%d%H%M%S%f}"
    catalog = SnapshotCatalog()
    with psycopg.connect(url) as con:
        cur = con.cursor()
        # 1. the new version, complete, in its own schema (nobody reads it until the switch)
        cur.execute(f"CREATE SCHEMA {version}")

        @functools.cache  # one read per seed
        def read_labels(source: LabelSource) -> dict[str, str]:
            cur.execute("SELECT to_regclass(%s)", (f"{quote_ident(source.schema)}.{quote_ident(source.seed)}",))
            if cur.fetchone()[0] is None:
                return {}  # labels are for reading only: without the seed the codes show as they are
            cur.execute(source.query())
            return {str(k): str(v) for k, v in cur.fetchall() if k is not None}

        for model in models:
            target = f"{version}.{quote_ident(model.name)}"
            cur.execute(f"CREATE TABLE {target} AS SELECT * FROM {quote_ident(build_schema)}.{quote_ident(model.name)}")
            catalog.add(model, cur.rowcount, catalog_columns(model, _columns(cur, version, model.name), read_labels))
        catalog.write(cur, version, json_type="jsonb", placeholder="%s", built_at=built_at, as_of=as_of)
        con.commit()

        # 2. the switch: every view of both stable schemas, in one transaction
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('hub.serving.publish'))")
        ensure_roles(cur)
        for schema in (SERVING, SERVING_MASKED):
            cur.execute("SELECT table_name FROM information_schema.views WHERE table_schema = %s", (schema,))
            for (view,) in cur.fetchall():
                cur.execute(f"DROP VIEW {schema}.{quote_ident(view)}")
        for table in [m.name for m in models] + ["_tables", "_snapshot"]:
            source = f"{version}.{quote_ident(table)}"
            cur.execute(f"CREATE VIEW {SERVING}.{quote_ident(table)} AS SELECT * FROM {source}")
            select = []
            for name, _ in _columns(cur, version, table):
                column = quote_ident(name)
                kind = masked_columns.get(name)
                select.append(f"{mask_sql(kind, column)} AS {column}" if kind else column)
            cur.execute(f"CREATE VIEW {SERVING_MASKED}.{quote_ident(table)} AS SELECT {', '.join(select)} "
                        f"FROM {source}")
        cur.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {SERVING} TO {READ_FULL}")
        cur.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {SERVING_MASKED} TO {READ_MASKED}")
        con.commit()

        # 3. versions beyond `keep` (and versions of publishes that died before their switch)
        cur.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY nspname DESC",
                    (VERSION_PREFIX + "%",))
        for (old,) in cur.fetchall()[keep:]:
            cur.execute(f"DROP SCHEMA {quote_ident(old)} CASCADE")
        con.commit()
    return ServerPublishResult(version, catalog.row_counts, built_at, as_of)


def published_row_counts(url: str) -> dict[str, int]:
    """Rows per table of the version readers see now (``serving._snapshot``), {} before the first publish."""
    import psycopg

    with psycopg.connect(url) as con:
        exists = con.execute("SELECT to_regclass(%s)", (f"{SERVING}._snapshot",)).fetchone()
        if not exists or exists[0] is None:
            return {}
        row = con.execute(f"SELECT row_counts FROM {SERVING}._snapshot").fetchone()
    return dict(row[0]) if row and row[0] else {}
