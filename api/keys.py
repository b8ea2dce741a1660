"""API keys: stored only as salted SHA-256 hashes in a small SQLite file under ``HubPaths.api_dir``.

Keys are 256 random bits, so a fast salted hash is enough (a slow KDF protects guessable passwords,
and would cost every request tens of milliseconds). The first 8 random characters are kept in clear
as a lookup prefix so a request checks one hash, not every stored key.

The web pages' login makes a session: a random 256-bit id in the browser's cookie, stored here
only as its SHA-256 and tied to the key's name, so the cookie never holds the key, a revoked key
ends its sessions at once, and logging out deletes the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROLES = ("analyst", "staff", "admin")
KEY_PREFIX = "hub_"
_LOOKUP_CHARS = 8


@dataclass(frozen=True)
class ApiKey:
    name: str
    role: str
    created_at: str
    revoked_at: str | None = None


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


class KeyStore:
    def __init__(self, api_dir: Path) -> None:
        self.path = api_dir / "keys.sqlite"

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        conn.execute(
            "create table if not exists api_keys (name text primary key, role text not null, "
            "lookup text not null, salt blob not null, hash blob not null, "
            "created_at text not null, revoked_at text)"
        )
        conn.execute(
            "create table if not exists sessions (id_hash blob primary key, key_name text not null, "
            "expires_at text not null)"
        )
        return conn

    def add(self, name: str, role: str) -> str:
        """Create a key and return it; only its hash is stored, so this is the one time it is seen."""
        if role not in ROLES:
            raise ValueError(f"角色必须是 {'|'.join(ROLES)} 之一 / role must be one of {'|'.join(ROLES)}, got {role!r}")
        if not name.strip():
            raise ValueError("名称不能为空 / name must not be empty")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        lookup = secret[len(KEY_PREFIX) : len(KEY_PREFIX) + _LOOKUP_CHARS]
        salt = secrets.token_bytes(16)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._connect() as conn:
            active = conn.execute("select 1 from api_keys where name = ? and revoked_at is null", (name,)).fetchone()
            if active:
                raise ValueError(f"密钥 {name!r} 已存在 / key {name!r} already exists; revoke it first")
            conn.execute("delete from api_keys where name = ?", (name,))
            conn.execute("delete from sessions where key_name = ?", (name,))  # a new key starts without sessions
            conn.execute(
                "insert into api_keys values (?, ?, ?, ?, ?, ?, null)",
                (name, role, lookup, salt, _hash(secret, salt), now),
            )
        return secret

    def list(self) -> list[ApiKey]:
        with self._connect() as conn:
            rows = conn.execute("select name, role, created_at, revoked_at from api_keys order by name").fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke(self, name: str) -> bool:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._connect() as conn:
            cur = conn.execute("update api_keys set revoked_at = ? where name = ? and revoked_at is null", (now, name))
            conn.execute("delete from sessions where key_name = ?", (name,))
            return cur.rowcount > 0

    def verify(self, secret: str) -> ApiKey | None:
        if not secret.startswith(KEY_PREFIX) or len(secret) < len(KEY_PREFIX) + _LOOKUP_CHARS:
            return None
        if not self.path.exists():
            return None
        lookup = secret[len(KEY_PREFIX) : len(KEY_PREFIX) + _LOOKUP_CHARS]
        with self._connect() as conn:
            rows = conn.execute(
                "select name, role, created_at, salt, hash from api_keys where lookup = ? and revoked_at is null",
                (lookup,),
            ).fetchall()
        for name, role, created_at, salt, stored in rows:
            if hmac.compare_digest(_hash(secret, salt), stored):
                return ApiKey(name, role, created_at)
        return None

    def start_session(self, key_name: str, hours: float) -> str:
        """A new session for the key ``key_name``; returns the id for the cookie (stored only hashed)."""
        session_id = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self._connect() as conn:
            conn.execute("delete from sessions where expires_at < ?", (now.isoformat(),))
            conn.execute(
                "insert into sessions values (?, ?, ?)",
                (_session_hash(session_id), key_name, (now + timedelta(hours=hours)).isoformat()),
            )
        return session_id

    def session(self, session_id: str) -> ApiKey | None:
        """The active key behind a session id, or None (unknown, expired, logged out or key revoked)."""
        if not session_id or len(session_id) > 128 or not self.path.exists():
            return None
        with self._connect() as conn:
            row = conn.execute(
                "select k.name, k.role, k.created_at from sessions s join api_keys k on k.name = s.key_name "
                "where s.id_hash = ? and s.expires_at > ? and k.revoked_at is null",
                (_session_hash(session_id), datetime.now(UTC).isoformat()),
            ).fetchone()
        return ApiKey(*row) if row else None

    def end_session(self, session_id: str) -> None:
        if session_id and self.path.exists():
            with self._connect() as conn:
                conn.execute("delete from sessions where id_hash = ?", (_session_hash(session_id),))


def _session_hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()
