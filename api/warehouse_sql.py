"""Users' read-only SQL on a PostgreSQL warehouse: on the server, as a login role that can read one schema.

Why on the server and not on the local replica: docs/decisions/0013-serve-a-server-warehouse-from-a-local-replica.md.
Roles that get personal data masked (``api.masking.sees_personal_data``) connect as ``hub_api_sql_masked`` (group
``hub_read_masked``, search_path ``serving_masked``: the names are masked in SQL on the server), staff and admin
as ``hub_api_sql_full`` (group ``hub_read_full``, search_path ``serving``). Both are made by
``ensure_login_role``: no CREATE, no temporary tables, none of pg_read_server_files / pg_execute_server_program.

Their passwords are the same in every worker and on every API host without being stored anywhere: HMAC-SHA256 of
the role name keyed with the password of the warehouse URL (the owner's). A URL without a password (the server
trusts the owner by peer, certificate or trust authentication) keys it with a random secret made once in the data
directory, shared by the workers of that host (``role_secret``). The same SQL guard as on DuckDB
(``hub.core.sql_guard.check_statement``) runs first, plus PostgreSQL's own file, session and dynamic-SQL functions;
each statement runs in a read-only transaction under ``statement_timeout`` on a connection of its own, rolled back
and closed afterwards (so nothing a statement might change in its session outlives it).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import duckdb

from api.errors import problem
from api.masking import sees_personal_data
from api.sql_runner import FETCH_ROWS, SqlResult, check_params, result_too_large, value_bytes
from hub.core.serving_server import (
    CONNECT_TIMEOUT_S,
    READ_FULL,
    READ_MASKED,
    SERVING,
    SERVING_MASKED,
    SQL_ROLE_SETTINGS,
    ensure_login_role,
    plain_value,
)
from hub.core.sql_guard import SqlRejected, check_statement, first_line, parse_tree

logger = logging.getLogger("api.warehouse")

JSON_TYPES = frozenset({"json", "jsonb"})
# PostgreSQL functions that read the server's files, signal or lock other sessions, change settings or run SQL
# from a string (which would skip the guard). The login role is refused most of them by the server too; this
# keeps the API's answer the same as on DuckDB (400 not_allowed) and the server's logs quiet.
DENIED_PREFIXES = ("pg_read_", "pg_ls_", "pg_stat_file", "pg_file", "pg_terminate", "pg_cancel", "pg_reload",
                   "pg_rotate", "pg_advisory", "pg_try_advisory", "pg_notify", "pg_current_logfile", "lo_",
                   "dblink", "query_to_xml", "cursor_to_xml", "table_to_xml", "schema_to_xml", "database_to_xml")
DENIED_NAMES = frozenset({"set_config", "current_setting", "inet_server_addr", "inet_server_port", "version",
                          "pg_postmaster_start_time", "pg_conf_load_time", "txid_current", "pg_backend_pid"})


@dataclass(frozen=True)
class SqlLogin:
    role: str
    group: str
    schema: str


MASKED_LOGIN = SqlLogin("hub_api_sql_masked", READ_MASKED, SERVING_MASKED)
FULL_LOGIN = SqlLogin("hub_api_sql_full", READ_FULL, SERVING)


def login_for(api_role: str) -> SqlLogin:
    return FULL_LOGIN if sees_personal_data(api_role) else MASKED_LOGIN


ROLE_SECRET_FILE = "warehouse_sql_secret"
AUTH_REFUSED = {"28P01", "28000"}  # invalid_password, invalid_authorization_specification


def role_secret(owner_url: str, api_dir: Path) -> str:
    """The key the login roles' passwords derive from: the owner's password, else the data directory's secret."""
    password = unquote(urlsplit(owner_url).password or "")
    if password:
        return password
    path = api_dir / ROLE_SECRET_FILE
    if not path.exists():
        api_dir.mkdir(parents=True, exist_ok=True)
        draft = api_dir / f".{ROLE_SECRET_FILE}.{os.getpid()}"
        draft.write_text(secrets.token_hex(32), encoding="utf-8")
        draft.chmod(0o600)
        try:
            os.link(draft, path)  # atomic and refused if another worker was first: every worker reads the winner's
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip()


def derived_password(secret: str, role: str) -> str:
    """The login role's password: the same in every worker, stored nowhere, unguessable without the secret."""
    return hmac.new(secret.encode(), role.encode(), hashlib.sha256).hexdigest()


def _function_names(tree: Any) -> set[str]:
    names, stack = set(), [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("class") == "FUNCTION" and isinstance(node.get("function_name"), str):
                names.add(node["function_name"].lower())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return names


def check_server_statement(sql: str) -> None:
    """The DuckDB guard (one SELECT, no catalog or file functions), then PostgreSQL's own denied functions."""
    check_statement(sql)
    for name in sorted(_function_names(parse_tree(sql))):
        if name in DENIED_NAMES or name.startswith(DENIED_PREFIXES):
            raise SqlRejected(400, "not_allowed", f"不允许调用函数 {name}（服务器文件、会话、设置或动态 SQL）",
                              f"function {name} is not allowed (server files, sessions, settings or dynamic SQL)",
                              function=name)


def positional(sql: str, params: dict[str, Any] | None) -> tuple[str, list[Any]]:
    """``$name`` parameters (the API's DuckDB form) as PostgreSQL's ``$1, $2 …``, found by DuckDB's tokenizer
    (so a ``$`` inside a string or a comment is left alone)."""
    if not params:
        return sql, []
    tokens = duckdb.tokenize(sql)
    order: list[str] = []
    out, last = [], 0
    for (start, kind), following in zip(tokens, [*tokens[1:], (len(sql), None)], strict=True):
        if kind == duckdb.token_type.operator and sql[start] == "$" and following[0] == start + 1:
            name = sql[start + 1 : following[0] + _token_length(sql, following[0])]
            if name in params:
                if name not in order:
                    order.append(name)
                out.append(sql[last:start] + f"${order.index(name) + 1}")
                last = start + 1 + len(name)
    out.append(sql[last:])
    return "".join(out), [params[name] for name in order]


def _token_length(sql: str, start: int) -> int:
    end = start
    while end < len(sql) and (sql[end].isalnum() or sql[end] == "_"):
        end += 1
    return end - start


def unavailable(exc: Exception) -> Exception:
    logger.warning("SQL on the warehouse failed: %s", first_line(str(exc)))
    return problem(503, "warehouse_unavailable", "数据仓库服务器暂时无法连接，SQL 查询暂不可用；数据表页面照常可用",
                   "the warehouse server cannot be reached, so SQL is unavailable for now; /api/tables still works")


def timed_out(timeout_ms: int) -> Exception:
    return problem(400, "timeout", f"查询超时（上限 {timeout_ms} 毫秒）", f"query timed out (limit {timeout_ms} ms)",
                   timeout_ms=timeout_ms)


def _connection_lost(exc: Exception) -> bool:
    """The server went away (no SQLSTATE: the client lost the connection; 08: connection exception; 57P: the
    server shut down), as opposed to an error of the statement."""
    state = getattr(exc, "sqlstate", None)
    return state is None or state.startswith(("08", "57P"))


def _engine_error(exc: Exception, timeout_ms: int) -> Exception:
    from psycopg import errors

    message = first_line(str(exc))
    if isinstance(exc, errors.QueryCanceled):
        return timed_out(timeout_ms)
    if _connection_lost(exc):
        return unavailable(exc)
    if isinstance(exc, errors.InsufficientPrivilege | errors.ReadOnlySqlTransaction):
        return problem(400, "not_allowed", f"没有权限：{message}", f"not allowed: {message}", engine_message=message)
    return problem(400, "sql_error", f"查询失败：{message}", f"query failed: {message}", engine_message=message)


@dataclass
class ServerSql:
    """Runs one guarded SELECT per call on the warehouse server as the caller's login role."""

    url: str
    secret: str  # role_secret(url, api_dir)
    timeout_ms: int
    row_limit: int
    max_bytes: int
    roles_ready: bool = False

    def ensure_roles(self) -> None:
        """Create or update both login roles (idempotent; each worker does it at start-up)."""
        for login in (MASKED_LOGIN, FULL_LOGIN):
            settings = {**SQL_ROLE_SETTINGS, "statement_timeout": f"{self.timeout_ms}ms", "search_path": login.schema}
            ensure_login_role(self.url, login.role, derived_password(self.secret, login.role), login.group, settings)
        self.roles_ready = True

    def run(self, api_role: str, sql: str, params: dict[str, Any] | None) -> SqlResult:
        import psycopg

        try:
            check_params(params)
            check_server_statement(sql)
        except SqlRejected as refused:
            raise problem(refused.status, refused.code, refused.zh, refused.en, **refused.extra) from None
        query, values = positional(sql, params)
        con = self._connect(login_for(api_role))
        try:
            return self._fetch(con, query, values)
        except psycopg.Error as exc:
            raise _engine_error(exc, self.timeout_ms) from None
        finally:
            con.close()  # rolls back: the read-only transaction ends with the connection

    def _connect(self, login: SqlLogin) -> Any:
        import psycopg

        options = (f"-c statement_timeout={int(self.timeout_ms)} -c default_transaction_read_only=on "
                   f"-c search_path={login.schema}")
        retried = False
        while True:
            try:
                if not self.roles_ready:
                    self.ensure_roles()
                return psycopg.connect(self.url, user=login.role, password=derived_password(self.secret, login.role),
                                       options=options, connect_timeout=CONNECT_TIMEOUT_S)
            except psycopg.Error as exc:
                self.roles_ready = False  # e.g. roles dropped or altered on the server: made again on the next call
                # a refused password (the role reset by another host or by hand): set it again and retry at once
                if retried or getattr(exc, "sqlstate", None) not in AUTH_REFUSED:
                    raise unavailable(exc) from None
                retried = True

    def _fetch(self, con: Any, query: str, values: list[Any]) -> SqlResult:
        """Rows through a server-side cursor, a few at a time, counted and sized as on DuckDB; the time limit
        holds for the whole answer, not only for each fetch."""
        from psycopg import RawServerCursor

        started = time.perf_counter()
        deadline = started + self.timeout_ms / 1000
        cursor = RawServerCursor(con, "hub_sql")
        cursor.execute(query, values or None)
        description = cursor.description or []
        is_json = [_type_name(con, d.type_code) in JSON_TYPES for d in description]
        rows: list[list[Any]] = []
        size = 0
        while len(rows) <= self.row_limit:
            batch = cursor.fetchmany(min(FETCH_ROWS, self.row_limit + 1 - len(rows)))
            if not batch:
                break
            converted = [[plain_value(v, j) for v, j in zip(row, is_json, strict=True)] for row in batch]
            rows.extend(converted)
            size += sum(value_bytes(row) for row in converted)
            if size > self.max_bytes:
                raise result_too_large(self.max_bytes, len(rows))
            if time.perf_counter() > deadline:
                raise timed_out(self.timeout_ms)
        columns = [{"name": d.name, "type": _type_name(con, d.type_code)} for d in description]
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        return SqlResult(columns, rows[: self.row_limit], len(rows) > self.row_limit, elapsed)


def _type_name(con: Any, oid: int) -> str:
    info = con.adapters.types.get(oid)
    return info.name if info else str(oid)
