"""Which engine holds the warehouse: DuckDB in the data directory (the default) or a PostgreSQL server.

One setting selects it: a URL (``--warehouse URL`` on the command line, else ``HUB_WAREHOUSE``, else DuckDB).
``postgresql://user:password@host:port/dbname`` selects the dbt target ``postgres`` of
dbt_project/profiles.yml, whose connection settings are read from the environment variables that
``Warehouse.dbt_env()`` returns; DuckDB keeps the target ``build``. dbt is told the target the way the
Dagster reference projects do it: a target name from settings, passed on as ``--target``
(``DbtCliResource(target=...)``),
with ``HUB_DBT_TARGET`` as the profile's default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

POSTGRES_SCHEMES = ("postgresql", "postgres")
DUCKDB_TARGET = "build"
POSTGRES_TARGET = "postgres"


@dataclass(frozen=True)
class Warehouse:
    """The warehouse engine; ``url`` is None for DuckDB in the data directory."""

    url: str | None = None

    @classmethod
    def from_setting(cls, url: str | None = None) -> Warehouse:
        """``url`` when given, else ``HUB_WAREHOUSE``, else DuckDB. Raises ValueError on an unknown scheme."""
        return cls.parse(url or os.environ.get("HUB_WAREHOUSE"))

    @classmethod
    def parse(cls, url: str | None) -> Warehouse:
        """``url`` itself (no environment): empty or ``duckdb`` is DuckDB. Raises ValueError on an unknown scheme."""
        chosen = (url or "").strip()
        if not chosen or chosen.lower() == "duckdb":
            return cls(None)
        scheme = urlsplit(chosen).scheme.lower()
        if scheme not in POSTGRES_SCHEMES:
            raise ValueError(
                f"不支持的数仓地址 / unsupported warehouse URL {redact(chosen)!r}: "
                "expected postgresql://user:password@host:port/dbname (or none for DuckDB)"
            )
        return cls(chosen)

    @property
    def engine(self) -> str:
        return "postgres" if self.url else "duckdb"

    @property
    def is_postgres(self) -> bool:
        return self.url is not None

    @property
    def dbt_target(self) -> str:
        return POSTGRES_TARGET if self.url else DUCKDB_TARGET

    def dbt_env(self) -> dict[str, str]:
        """Environment variables for a dbt process: the target and, for PostgreSQL, its connection."""
        env = {"HUB_DBT_TARGET": self.dbt_target}
        if self.url:
            parts = urlsplit(self.url)
            env.update({
                "HUB_PG_HOST": parts.hostname or "127.0.0.1",
                "HUB_PG_PORT": str(parts.port or 5432),
                "HUB_PG_USER": unquote(parts.username or "postgres"),
                # dbt keeps DBT_ENV_SECRET_* values out of its logs
                "DBT_ENV_SECRET_HUB_PG_PASSWORD": unquote(parts.password or ""),
                "HUB_PG_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
            })
        return env

    def __str__(self) -> str:
        return redact(self.url) if self.url else "duckdb"


def redact(url: str) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
