"""Publish: copy the published dbt views into a new, versioned serving DuckDB file
(docs/decisions/0005-build-and-serve-are-separate-snapshots.md).

The build database is written by ingest and dbt; readers (the API, ``hub sql``) never open it.
Each publish writes a fresh file under ``HubPaths.serving`` with a hidden temporary name,
checkpoints and closes it, renames it into place and only then switches the ``CURRENT``
pointer, so a publish that dies half-way leaves the previous snapshot in service.

Besides one table per published view, the snapshot carries:
- ``_tables``: table_name, description, columns (JSON list of {name, type, description, meta?}), summary
  (the model's ``meta.summary``: the Chinese description readers see) — the data dictionary the API shows,
  taken from the dbt manifest; a column of the row key carries ``meta.key`` (its position in the key);
- ``_snapshot``: one row with built_at, as_of and row_counts (JSON {table: rows}).
"""

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from hub.core.pointer import new_build_path, publish_build, version_name
from hub.core.quoting import quote_ident, sql_literal
from orchestration.ingest.contracts import CONTRACT_LABELS

PUBLISHED_TAG = "published"
# The eight shared views of docs/sources.md, a stable interface: always published, tagged or not, so a
# forgotten tag cannot drop one.
SHARED_VIEWS = frozenset({
    "hidden_danger_register", "responsibility_matrix", "responsibility_chain_breaks", "town_readiness",
    "grid_coverage", "rescue_capacity", "event_handling", "town_dossier",
})
SNAPSHOT_PREFIX = "serving"
KEEP_SNAPSHOTS = 3
BUILD_ALIAS = "build"


@dataclass(frozen=True)
class LabelSource:
    """Where a coded column's Chinese value labels come from: two columns of a seed (column meta
    ``value_labels_from: {seed, key, label}``), read at publish time so the seed stays their only source.
    (``value_labels_from: {contract: sources|entities|fields}`` takes them from the source contracts instead.)"""

    schema: str
    seed: str
    key: str
    label: str

    def query(self, database: str | None = None) -> str:
        relation = ".".join(quote_ident(part) for part in (database, self.schema, self.seed) if part)
        return f"SELECT {quote_ident(self.key)}, {quote_ident(self.label)} FROM {relation}"


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    description: str
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)  # dbt column meta, shown by the web pages
    labels_from: LabelSource | None = None


@dataclass(frozen=True)
class PublishedModel:
    """A dbt model to publish: tag ``published``, ``meta.publish: true``, or one of SHARED_VIEWS."""

    unique_id: str
    name: str  # the table name in the serving snapshot (the model's alias)
    schema: str  # schema of the relation in the build database
    description: str
    columns: tuple[ColumnDoc, ...]
    summary: str = ""  # meta.summary: the Chinese description the pages show
    key: tuple[str, ...] = ()  # the columns that identify a row: the model's dbt uniqueness test


@dataclass(frozen=True)
class PublishResult:
    path: Path
    row_counts: dict[str, int]
    built_at: datetime
    as_of: date | None


def catalog_columns(
    model: PublishedModel, described: list[tuple[str, str]], read_labels: Callable[[LabelSource], dict[str, str]]
) -> list[dict[str, Any]]:
    """The ``_tables.columns`` entries of a published model: each column's type (as the engine reports it),
    description and meta, with ``value_labels_from`` resolved into ``value_labels`` by ``read_labels``."""
    docs = {c.name: c for c in model.columns}
    entries: list[dict[str, Any]] = []
    for name, dtype in described:
        doc = docs.get(name)
        entry: dict[str, Any] = {"name": name, "type": dtype, "description": doc.description if doc else ""}
        meta = {k: v for k, v in (doc.meta if doc else {}).items() if k != "value_labels_from"}
        if doc is not None and doc.labels_from is not None:
            meta["value_labels"] = {**read_labels(doc.labels_from), **(meta.get("value_labels") or {})}
        if name in model.key:
            meta["key"] = model.key.index(name) + 1
        if meta:
            entry["meta"] = meta
        entries.append(entry)
    return entries


def _is_published(node: Mapping[str, Any]) -> bool:
    if (node.get("alias") or node.get("name")) in SHARED_VIEWS:
        return True
    config = node.get("config") or {}
    tags = set(node.get("tags") or []) | set(config.get("tags") or [])
    meta = {**(node.get("meta") or {}), **(config.get("meta") or {})}
    return PUBLISHED_TAG in tags or bool(meta.get("publish"))


def _column_doc(manifest: Mapping[str, Any], name: str, col: Mapping[str, Any]) -> ColumnDoc:
    meta = {**(col.get("meta") or {}), **((col.get("config") or {}).get("meta") or {})}
    wanted = meta.get("value_labels_from")
    labels_from = None
    if isinstance(wanted, Mapping) and "contract" in wanted:
        # Source systems and their entities are named in the source contracts: their labels come from there.
        if wanted["contract"] not in CONTRACT_LABELS:
            raise ValueError(f"column {name}: value_labels_from contract must be one of {sorted(CONTRACT_LABELS)}: "
                             f"{wanted}")
        meta = {k: v for k, v in meta.items() if k != "value_labels_from"}
        meta["value_labels"] = {**CONTRACT_LABELS[wanted["contract"]], **(meta.get("value_labels") or {})}
    elif isinstance(wanted, Mapping):
        seeds = [n for n in (manifest.get("nodes") or {}).values()
                 if n.get("resource_type") == "seed" and n.get("name") == wanted.get("seed")]
        if not seeds or not wanted.get("key") or not wanted.get("label"):
            raise ValueError(f"column {name}: value_labels_from needs a seed of the dbt project, its key and its "
                             f"label column: {wanted}")
        labels_from = LabelSource(seeds[0]["schema"], seeds[0].get("alias") or seeds[0]["name"],
                                  str(wanted["key"]), str(wanted["label"]))
    return ColumnDoc(name=name, description=col.get("description") or "", meta=meta, labels_from=labels_from)


def published_models(manifest: Mapping[str, Any]) -> list[PublishedModel]:
    """The models the dbt project marks as published (plus SHARED_VIEWS), sorted by name."""
    found: list[PublishedModel] = []
    keys = row_keys(manifest)
    for unique_id, node in (manifest.get("nodes") or {}).items():
        if node.get("resource_type") != "model" or not _is_published(node):
            continue
        if (node.get("config") or {}).get("materialized") == "ephemeral":
            continue  # nothing to copy: an ephemeral model has no relation
        meta = {**(node.get("meta") or {}), **((node.get("config") or {}).get("meta") or {})}
        columns = tuple(
            _column_doc(manifest, col.get("name") or key, col) for key, col in (node.get("columns") or {}).items()
        )
        found.append(
            PublishedModel(
                unique_id=unique_id,
                name=node.get("alias") or node["name"],
                schema=node["schema"],
                description=node.get("description") or "",
                columns=columns,
                summary=str(meta.get("summary") or "").strip(),
                key=keys.get(unique_id, ()),
            )
        )
    return sorted(found, key=lambda m: m.name)


def row_keys(manifest: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Model unique id → the columns its unfiltered dbt uniqueness test holds unique (``unique`` on one column,
    preferred, else dbt_utils' ``unique_combination_of_columns``): what a row page is addressed by. The key is the
    one the tests enforce on every build, not a second declaration that could drift from them."""
    found: dict[str, tuple[str, ...]] = {}
    for node in (manifest.get("nodes") or {}).values():
        test = node.get("test_metadata") or {}
        model = node.get("attached_node")
        if node.get("resource_type") != "test" or not model or (node.get("config") or {}).get("where"):
            continue
        kwargs = test.get("kwargs") or {}
        if test.get("name") == "unique" and kwargs.get("column_name"):
            columns: tuple[str, ...] = (str(kwargs["column_name"]),)
        elif test.get("name") == "unique_combination_of_columns" and kwargs.get("combination_of_columns"):
            columns = tuple(str(c) for c in kwargs["combination_of_columns"])
        else:
            continue
        if model not in found or len(columns) < len(found[model]):
            found[model] = columns
    return found


def load_manifest(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise FileNotFoundError(
            f"dbt manifest 缺失 / missing: {path} — 请先运行 make install / run `make install` "
            "(it runs `dagster-dbt project prepare-and-package --file orchestration/dbt_project.py`)"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def _copy_model(
    con: duckdb.DuckDBPyConnection, model: PublishedModel, read_labels: Callable[[LabelSource], dict[str, str]]
) -> tuple[int, list[dict[str, Any]]]:
    """Copy one view into the snapshot; return its row count and documented columns."""
    source = f"{BUILD_ALIAS}.{quote_ident(model.schema)}.{quote_ident(model.name)}"
    con.execute(f"CREATE TABLE main.{quote_ident(model.name)} AS SELECT * FROM {source}")
    rows = con.execute(f"SELECT count(*) FROM main.{quote_ident(model.name)}").fetchone()
    described = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = ? "
        "ORDER BY ordinal_position",
        [model.name],
    ).fetchall()
    return int(rows[0] if rows else 0), catalog_columns(model, described, read_labels)


def _seed_labels(con: duckdb.DuckDBPyConnection, source: LabelSource) -> dict[str, str]:
    """The labels of ``source`` in the attached build database; none when the build has no such seed."""
    present = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_catalog = ? AND table_schema = ? AND table_name = ?",
        [BUILD_ALIAS, source.schema, source.seed],
    ).fetchone()
    if not (present and present[0]):
        return {}  # labels are for reading only: without the seed the codes show as they are
    return {str(k): str(v) for k, v in con.execute(source.query(BUILD_ALIAS)).fetchall() if k is not None}


@dataclass(frozen=True)
class SnapshotCatalog:
    """The two tables every published version carries besides the models, on either engine: ``_tables``
    (one row per model: name, description, columns as JSON, summary) and ``_snapshot`` (built_at, as_of,
    row counts as JSON)."""

    tables: list[tuple[str, str, str, str]] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)

    def add(self, model: PublishedModel, rows: int, columns: list[dict[str, Any]]) -> None:
        self.row_counts[model.name] = rows
        self.tables.append((model.name, model.description, json.dumps(columns, ensure_ascii=False), model.summary))

    def write(self, cursor: Any, schema: str, *, json_type: str, placeholder: str,
              built_at: datetime, as_of: date | None) -> None:
        """Create and fill both tables in ``schema`` through a DB-API ``cursor`` (DuckDB: ``JSON``, ``?``;
        PostgreSQL: ``jsonb``, ``%s``)."""
        contents = {
            "_tables": (f"(table_name text PRIMARY KEY, description text, columns {json_type}, summary text)",
                        self.tables),
            "_snapshot": (f"(built_at timestamp, as_of date, row_counts {json_type})",
                          [(built_at, as_of, json.dumps(self.row_counts, ensure_ascii=False))]),
        }
        for table, (columns, rows) in contents.items():
            cursor.execute(f"CREATE TABLE {schema}.{table} {columns}")
            marks = ", ".join([placeholder] * len(rows[0]))
            cursor.executemany(f"INSERT INTO {schema}.{table} VALUES ({marks})", rows)


def publish_snapshot(
    build_db: Path,
    serving_root: Path,
    models: list[PublishedModel],
    as_of: date | None = None,
    keep: int = KEEP_SNAPSHOTS,
) -> PublishResult:
    """Copy ``models`` from ``build_db`` into a new snapshot under ``serving_root`` and make it current."""
    if not models:
        raise ValueError("dbt 项目中没有标记为 published 的模型 / no model in the dbt project is tagged 'published'")
    if not build_db.exists():
        raise FileNotFoundError(f"构建库不存在 / build database not found: {build_db}")
    serving_root.mkdir(parents=True, exist_ok=True)
    name = version_name(SNAPSHOT_PREFIX, ".duckdb")
    temp = new_build_path(serving_root, name)
    built_at = datetime.now().replace(microsecond=0)
    catalog = SnapshotCatalog()
    try:
        con = duckdb.connect(str(temp))
        try:
            con.execute(f"ATTACH {sql_literal(str(build_db))} AS {BUILD_ALIAS} (READ_ONLY)")
            read_labels = functools.cache(functools.partial(_seed_labels, con))  # one read per seed
            for model in models:
                catalog.add(model, *_copy_model(con, model, read_labels))
            con.execute(f"DETACH {BUILD_ALIAS}")
            catalog.write(con, "main", json_type="JSON", placeholder="?", built_at=built_at, as_of=as_of)
            con.execute("CHECKPOINT")
        finally:
            con.close()
    except BaseException:
        _remove_db_file(temp)
        raise
    final = publish_build(serving_root, temp, name, keep=keep)
    return PublishResult(path=final, row_counts=catalog.row_counts, built_at=built_at, as_of=as_of)


def _remove_db_file(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + ".wal")):
        candidate.unlink(missing_ok=True)


# --- the Dagster asset ------------------------------------------------------------------------------


def build_serving_snapshot_asset(manifest: Mapping[str, Any]) -> Any:
    """The last asset of the pipeline: ``serving_snapshot``, downstream of every published dbt model."""
    import dagster as dg
    from dagster import AssetExecutionContext

    from orchestration.dbt_assets import published_asset_keys
    from orchestration.resources import DUCKDB_WRITER_POOL, HubSettings

    models = published_models(manifest)
    deps = published_asset_keys(manifest, [m.unique_id for m in models])

    @dg.asset(
        name="serving_snapshot",
        group_name="publish",
        deps=deps,
        pool=DUCKDB_WRITER_POOL,  # reads the build database, so no writer may hold it meanwhile
        description="发布快照：把共享视图复制到新的只读服务库并切换 CURRENT / copy the shared views into a new "
        "serving DuckDB file and switch the CURRENT pointer",
    )
    def serving_snapshot(context: AssetExecutionContext, hub_settings: HubSettings) -> dg.MaterializeResult:
        warehouse = hub_settings.warehouse_engine
        if warehouse.url:
            return _publish_on_server(context, warehouse.url, models, hub_settings.as_of_date())
        paths = hub_settings.paths
        result = publish_snapshot(paths.build_db, paths.serving, models, as_of=hub_settings.as_of_date())
        context.log.info(f"published {result.path} ({sum(result.row_counts.values())} rows)")
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(result.path)),
                "as_of": str(result.as_of),
                "tables": len(result.row_counts),
                "row_counts": dg.MetadataValue.json(result.row_counts),
            }
        )

    return serving_snapshot


def _publish_on_server(context: Any, url: str, models: list[PublishedModel], as_of: date) -> Any:
    """The server's versioned ``serving`` / ``serving_masked`` schemas instead of a snapshot file."""
    import dagster as dg

    from hub.core.personal_data import masked_column_kinds
    from hub.core.warehouse import redact
    from orchestration.warehouse.serving import publish_on_server

    result = publish_on_server(url, models, masked_column_kinds(), as_of=as_of)
    context.log.info(f"published {result.version} on {redact(url)} ({sum(result.row_counts.values())} rows)")
    return dg.MaterializeResult(
        metadata={
            "server": redact(url),
            "version": result.version,
            "as_of": str(result.as_of),
            "tables": len(result.row_counts),
            "row_counts": dg.MetadataValue.json(result.row_counts),
        }
    )
