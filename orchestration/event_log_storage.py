"""Dagster's SQLite event log, minus most of its per-event overhead (configured in dagster_home/dagster.yaml).

A `dbt build` reports every model and every test as Dagster events: ~450 events for a daily run, ~1,000 for
a full one. The stock ``SqliteEventLogStorage`` builds a new SQLAlchemy engine for every statement it sends
(so nothing it compiles is reused), asks SQLite whether the asset-check table exists before every check
event, and syncs the write-ahead log to disk on every commit. Measured on a daily run at `large` scale,
that was ~3.5 s of CPU next to the dbt build. This class keeps the files, tables and format of the stock
storage (``dagster dev`` with a stock dagster.yaml reads them as they are) and changes only that:

- one engine per database file, kept for the few files in use (compiled statements are cached per engine);
- a table found once is not looked up again (tables are created, never dropped, while the process runs);
- ``synchronous=NORMAL`` in WAL mode: a power cut may lose the last events, never corrupts the file.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

KEEP_ENGINES = 8  # the index shard and the shards of the runs in progress; `dagster dev` reads many more


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class HubSqliteEventLogStorage(SqliteEventLogStorage):
    """SQLite event log storage (one file per run plus the index) that reuses its engines."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables_seen: set[str] = set()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,  # type: ignore[override]
                          config_value: Mapping[str, Any]) -> HubSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)  # the stock method always builds the stock class

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is None:
            engine = create_engine(self.conn_string_for_shard(shard), poolclass=NullPool,
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            event.listen(engine, "connect", _sqlite_pragmas)
            self._engines[shard] = engine
            while len(self._engines) > KEEP_ENGINES:
                self._engines.popitem(last=False)[1].dispose()
        else:
            self._engines.move_to_end(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        if table_name in self._tables_seen:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables_seen.add(table_name)
        return found
