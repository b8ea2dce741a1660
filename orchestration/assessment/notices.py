"""督办单: follow-up notices per responsible unit, sent through the unit's chat-robot webhook, each item once per
escalation level, never twice.

The items are ``followup_items`` of the current serving snapshot (on a server warehouse: of the ``serving``
schema, the version readers see now). An item's age is its days past the deadline
(from dbt) or, for items without a deadline, the days since this log first saw it; its level is the highest of
``dbt_project/seeds/followup_escalation.csv`` whose ``min_days`` the age reaches.

The notice log is a SQLite file in the data directory (``notices/notice_log.sqlite3``), outside the build
database. Its key is (unit, item, level). For each unit: the items not yet in the log are *claimed* in one
transaction (status ``claimed``), one message is POSTed, and after a 2xx the claimed rows are marked ``sent``
in one transaction. A send that certainly did not arrive (connection refused, a non-2xx answer after the
retries, a robot's JSON ``errcode`` other than 0) releases the claim, so the next run tries again. A send
whose fate is unknown (the answer timed out, or the process died between claim and mark: found as a
``claimed`` row by the next run) becomes ``uncertain`` and is never resent automatically — a duplicate
notice is worse than one that a person confirms (``release_uncertain``). One sender at a time (a lock file).
"""

from __future__ import annotations

import argparse
import base64
import csv
import fcntl
import hashlib
import hmac
import json
import sqlite3
import time
import urllib.parse
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from hub.core.paths import SEEDS_DIR, HubPaths
from hub.core.pointer import read_current
from hub.core.quoting import quote_ident
from hub.core.serving_server import CONNECT_TIMEOUT_S, current_version, plain_value
from orchestration.settings import HubConfig

ESCALATION_SEED = SEEDS_DIR / "followup_escalation.csv"
KIND_NAMES = {
    "overdue_danger": "逾期隐患",
    "responsibility_gap": "责任缺位",
    "chain_break": "责任链断点",
    "uncovered_village": "网格未覆盖",
    "team_without_agreement": "救援队伍未签协议",
}
ROBOT_KINDS = ("dingtalk", "wecom", "zzd")  # 钉钉, 企业微信, 浙政钉 (DingTalk's message format)


@dataclass(frozen=True)
class Escalation:
    level: int
    min_days: int
    name: str


@dataclass(frozen=True)
class Webhook:
    unit: str
    url: str
    kind: str = "dingtalk"
    secret: str = ""  # DingTalk 加签 secret, when the robot is set up with one


@dataclass(frozen=True)
class Item:
    unit_id: str
    unit_name: str
    item_key: str
    item_kind: str
    detail: str
    owner: str
    evidence: str
    age_days: int
    level: int


@dataclass
class Outcome:
    as_of: str = ""
    sent: int = 0  # items
    messages: int = 0
    released: int = 0
    uncertain: int = 0
    already: int = 0
    no_webhook: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (f"督办单 as of {self.as_of}: {self.messages} message(s), {self.sent} item(s) sent, "
                f"{self.already} already sent, {self.released} to retry, {self.uncertain} uncertain, "
                f"{sum(self.no_webhook.values())} without a webhook")

    def metadata(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "messages": self.messages, "items_sent": self.sent, "already_sent": self.already,
                "to_retry": self.released, "uncertain": self.uncertain, "no_webhook": json.dumps(self.no_webhook,
                                                                                                 ensure_ascii=False)}


class RetryableSend(Exception):
    """Certainly not delivered (refused connection, 5xx/429): safe to send again."""


class RejectedSend(Exception):
    """Answered, and not accepted (4xx, robot errcode): not delivered, not retried in this run."""


class UncertainSend(Exception):
    """No answer (timeout after the request went out): it may have arrived."""


# --- configuration ---------------------------------------------------------------------------------------------


def load_escalation(path: Path = ESCALATION_SEED) -> list[Escalation]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = [Escalation(int(r["escalation_level"]), int(r["min_days"]), r["level_name"]) for r in csv.DictReader(f)]
    return sorted(rows, key=lambda e: e.min_days)


def level_for(age_days: int, escalation: Sequence[Escalation]) -> int:
    reached = [e.level for e in escalation if age_days >= e.min_days]
    return max(reached) if reached else 0


def webhooks_file(paths: HubPaths, configured: Path | None = None) -> Path:
    """The units' robots (a CSV file: unit,url,kind[,secret]): HUB_NOTICE_WEBHOOKS, else in the data directory."""
    return configured or paths.data_dir / "notices" / "webhooks.csv"


def load_webhooks(path: Path) -> dict[str, Webhook]:
    """unit (town code, town name or department name) → webhook. No file: no webhooks."""
    if not path.exists():
        return {}
    hooks: dict[str, Webhook] = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            unit, url = (row.get("unit") or "").strip(), (row.get("url") or "").strip()
            kind = (row.get("kind") or "dingtalk").strip().lower()
            if not unit or not url:
                continue
            if kind not in ROBOT_KINDS:
                raise ValueError(f"webhooks: kind 必须是 / must be one of {ROBOT_KINDS}, got {kind!r} for {unit}")
            hooks[unit] = Webhook(unit=unit, url=url, kind=kind, secret=(row.get("secret") or "").strip())
    return hooks


# --- the log ---------------------------------------------------------------------------------------------------


def log_path(paths: HubPaths) -> Path:
    return paths.data_dir / "notices" / "notice_log.sqlite3"


class NoticeLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.con = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=FULL")
        self.con.executescript("""
            CREATE TABLE IF NOT EXISTS notices (
                unit_id TEXT NOT NULL, item_key TEXT NOT NULL, level INTEGER NOT NULL,
                unit_name TEXT, item_kind TEXT, detail TEXT, status TEXT NOT NULL, batch_id TEXT NOT NULL,
                claimed_at TEXT NOT NULL, sent_at TEXT, http_status INTEGER, attempts INTEGER DEFAULT 0, note TEXT,
                PRIMARY KEY (unit_id, item_key, level));
            CREATE TABLE IF NOT EXISTS items_seen (
                unit_id TEXT NOT NULL, item_key TEXT NOT NULL, first_seen TEXT NOT NULL,
                PRIMARY KEY (unit_id, item_key));
        """)

    def close(self) -> None:
        self.con.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def first_seen(self, keys: Sequence[tuple[str, str]], today: date) -> dict[tuple[str, str], date]:
        with self.transaction() as con:
            con.executemany("INSERT OR IGNORE INTO items_seen VALUES (?, ?, ?)",
                            [(u, k, today.isoformat()) for u, k in keys])
        rows = self.con.execute("SELECT unit_id, item_key, first_seen FROM items_seen").fetchall()
        return {(u, k): date.fromisoformat(d) for u, k, d in rows}

    def known(self) -> set[tuple[str, str, int]]:
        return {(u, k, lv) for u, k, lv in self.con.execute("SELECT unit_id, item_key, level FROM notices")}

    def mark_stale_claims_uncertain(self) -> int:
        """Claims left by a sender that died (only one sender runs at a time): their fate is unknown."""
        with self.transaction() as con:
            cur = con.execute("UPDATE notices SET status = 'uncertain', note = '发送中断，是否送达未知 / sender "
                              "stopped between claim and confirmation' WHERE status = 'claimed'")
            return cur.rowcount

    def claim(self, items: Sequence[Item], batch_id: str) -> list[Item]:
        now = datetime.now().isoformat(timespec="seconds")
        with self.transaction() as con:
            claimed = []
            for item in items:
                cur = con.execute(
                    "INSERT OR IGNORE INTO notices (unit_id, item_key, level, unit_name, item_kind, detail, status, "
                    "batch_id, claimed_at) VALUES (?, ?, ?, ?, ?, ?, 'claimed', ?, ?)",
                    (item.unit_id, item.item_key, item.level, item.unit_name, item.item_kind, item.detail, batch_id,
                     now))
                if cur.rowcount == 1:
                    claimed.append(item)
            return claimed

    def finish(self, batch_id: str, status: str, http_status: int | None, attempts: int, note: str = "") -> None:
        now = datetime.now().isoformat(timespec="seconds")
        with self.transaction() as con:
            if status == "released":
                con.execute("DELETE FROM notices WHERE batch_id = ? AND status = 'claimed'", (batch_id,))
            else:
                con.execute("UPDATE notices SET status = ?, sent_at = ?, http_status = ?, attempts = ?, note = ? "
                            "WHERE batch_id = ? AND status = 'claimed'",
                            (status, now if status == "sent" else None, http_status, attempts, note, batch_id))

    def rows(self) -> list[dict[str, Any]]:
        cur = self.con.execute("SELECT * FROM notices ORDER BY unit_id, item_key, level")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def release_uncertain(paths: HubPaths, unit_id: str, item_key: str, level: int) -> bool:
    """A person confirmed an ``uncertain`` notice did not arrive: forget it, so the next run sends it."""
    log = NoticeLog(log_path(paths))
    try:
        with log.transaction() as con:
            cur = con.execute("DELETE FROM notices WHERE unit_id = ? AND item_key = ? AND level = ? "
                              "AND status = 'uncertain'", (unit_id, item_key, level))
            return cur.rowcount == 1
    finally:
        log.close()


@contextmanager
def sender_lock(paths: HubPaths) -> Iterator[None]:
    lock = paths.data_dir / "notices" / ".sender.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released by the OS when the process dies
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- the message -----------------------------------------------------------------------------------------------


def notice_text(unit_name: str, unit_id: str, items: Sequence[Item], escalation: Sequence[Escalation],
                as_of: str, public_url: str = "") -> tuple[str, str]:
    """(title, markdown) of one unit's 督办单; ``public_url`` (HUB_PUBLIC_URL, e.g. https://hub.example.gov.cn)
    adds a link to its printable page."""
    names = {e.level: e.name for e in escalation}
    title = f"督办单｜{unit_name}"
    lines = [f"### 督办单｜{unit_name}",
             f"截至 {as_of}，以下 {len(items)} 项事项已逾期或未闭环，请按期整改并反馈：", ""]
    for level in sorted({i.level for i in items}, reverse=True):
        lines.append(f"**【{names.get(level, str(level))}】**")
        for item in (i for i in items if i.level == level):
            lines.append(f"- {KIND_NAMES.get(item.item_kind, item.item_kind)}：{item.detail}"
                         f"（责任：{item.owner or unit_name}；已 {item.age_days} 天；依据：{item.evidence}；"
                         f"编号 {item.item_key}）")
        lines.append("")
    base = public_url.rstrip("/")
    if base:
        lines.append(f"[查看并打印督办单]({base}/assessment/notice/{urllib.parse.quote(unit_id)})")
    lines.append("萧山区应急管理局 · 应急数据枢纽")
    return title, "\n".join(lines)


def robot_payload(kind: str, title: str, text: str) -> dict[str, Any]:
    if kind == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": text}}
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}  # DingTalk / 浙政钉


def signed_url(hook: Webhook, now_ms: int | None = None) -> str:
    """DingTalk 加签: timestamp and sign query parameters when the robot has a secret."""
    if not hook.secret or hook.kind == "wecom":
        return hook.url
    timestamp = str(now_ms if now_ms is not None else int(time.time() * 1000))
    digest = hmac.new(hook.secret.encode(), f"{timestamp}\n{hook.secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    joiner = "&" if "?" in hook.url else "?"
    return f"{hook.url}{joiner}timestamp={timestamp}&sign={sign}"


def post_once(client: httpx.Client, hook: Webhook, payload: dict[str, Any]) -> int:
    try:
        response = client.post(signed_url(hook), json=payload)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise RetryableSend(str(exc)) from exc
    except httpx.TimeoutException as exc:  # the request went out, the answer did not come
        raise UncertainSend(str(exc)) from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise RetryableSend(f"HTTP {response.status_code}")
    if not 200 <= response.status_code < 300:
        raise RejectedSend(f"HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if isinstance(answer, dict) and answer.get("errcode") not in (None, 0):
        raise RejectedSend(f"errcode {answer.get('errcode')}: {answer.get('errmsg')}")
    return response.status_code


# --- one run ---------------------------------------------------------------------------------------------------


def _as_of_text(snapshot_row: Sequence[Any] | None, items: Sequence[dict[str, Any]]) -> str:
    as_of = (snapshot_row[0] if snapshot_row and snapshot_row[0]
             else items[0]["as_of_date"] if items else date.today())
    return str(as_of)


def read_items(snapshot: Path) -> tuple[str, list[dict[str, Any]]]:
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        row = con.execute("SELECT as_of FROM _snapshot").fetchone()
        present = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'followup_items'"
                              ).fetchone()
        if not present or not present[0]:  # a snapshot published before the assessment models existed
            return _as_of_text(row, []), []
        cursor = con.execute("SELECT * FROM followup_items ORDER BY unit_id, item_key")
        names = [d[0] for d in cursor.description]
        items = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    finally:
        con.close()
    return _as_of_text(row, items), items


def read_items_on_server(url: str) -> tuple[str, list[dict[str, Any]]] | None:
    """``read_items`` of a server warehouse's published version (the one schema ``serving`` shows, values as a
    DuckDB snapshot gives them); None before the first publish."""
    import psycopg

    # the version schema the serving views read now, read directly: a version never changes once published, so
    # the as-of date and the items come from the same one even when a publish switches the views meanwhile
    version = current_version(url)
    if version is None:
        return None
    schema = quote_ident(version)
    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as con:
        row = con.execute(f"SELECT as_of FROM {schema}._snapshot").fetchone()
        present = con.execute("SELECT to_regclass(%s)", (f"{schema}.followup_items",)).fetchone()
        if not present or present[0] is None:  # published before the assessment models existed
            return _as_of_text(row, []), []
        cursor = con.execute(f"SELECT * FROM {schema}.followup_items ORDER BY unit_id, item_key")
        names = [d.name for d in cursor.description or []]
        items = [{n: plain_value(v) for n, v in zip(names, r, strict=True)} for r in cursor.fetchall()]
    return _as_of_text(row, items), items


def due_items(rows: Sequence[dict[str, Any]], log: NoticeLog, as_of: date,
              escalation: Sequence[Escalation]) -> list[Item]:
    """Every item with its age and escalation level (level 0 = not yet due for a notice)."""
    seen = log.first_seen([(r["unit_id"], r["item_key"]) for r in rows if r["age_days"] is None], as_of)
    items = []
    for r in rows:
        age = r["age_days"] if r["age_days"] is not None else (as_of - seen[(r["unit_id"], r["item_key"])]).days
        items.append(Item(unit_id=r["unit_id"], unit_name=r["unit_name"], item_key=r["item_key"],
                          item_kind=r["item_kind"], detail=r["detail"] or "", owner=r["owner"] or "",
                          evidence=f"{r['evidence_table']} {r['evidence_key']}", age_days=int(age),
                          level=level_for(int(age), escalation)))
    return [i for i in items if i.level > 0]


def send_notices(paths: HubPaths, *, snapshot: Path | None = None, webhooks: dict[str, Webhook] | None = None,
                 escalation: Sequence[Escalation] | None = None, timeout: float = 10.0,
                 attempts: int = 4, webhooks_csv: Path | None = None, public_url: str = "",
                 warehouse_url: str | None = None) -> Outcome:
    """Send the due notices of the current snapshot (``warehouse_url``: of the server's ``serving`` schema). The
    notice log stays in the data directory on both engines."""
    outcome = Outcome()
    if warehouse_url:
        found = read_items_on_server(warehouse_url)
    else:
        snapshot = snapshot or read_current(paths.serving)
        found = read_items(snapshot) if snapshot is not None else None
    if found is None:  # nothing published yet
        return outcome
    hooks = webhooks if webhooks is not None else load_webhooks(webhooks_file(paths, webhooks_csv))
    levels = list(escalation) if escalation is not None else load_escalation()
    as_of_text, rows = found
    outcome.as_of = as_of_text
    with sender_lock(paths):
        log = NoticeLog(log_path(paths))
        try:
            outcome.uncertain += log.mark_stale_claims_uncertain()
            items = due_items(rows, log, date.fromisoformat(as_of_text[:10]), levels)
            known = log.known()
            per_unit: dict[str, list[Item]] = defaultdict(list)
            for item in items:
                if (item.unit_id, item.item_key, item.level) in known:
                    outcome.already += 1
                else:
                    per_unit[item.unit_id].append(item)
            with httpx.Client(timeout=timeout, trust_env=False) as client:
                for unit_id, unit_items in sorted(per_unit.items()):
                    hook = hooks.get(unit_id) or hooks.get(unit_items[0].unit_name)
                    if hook is None:
                        outcome.no_webhook[unit_items[0].unit_name] = len(unit_items)
                        continue
                    _send_unit(client, log, hook, unit_items, levels, as_of_text, outcome, attempts, public_url)
        finally:
            log.close()
    return outcome


def _send_unit(client: httpx.Client, log: NoticeLog, hook: Webhook, items: Sequence[Item],
               levels: Sequence[Escalation], as_of: str, outcome: Outcome, attempts: int, public_url: str) -> None:
    batch_id = uuid.uuid4().hex
    claimed = log.claim(items, batch_id)
    if not claimed:
        return
    title, text = notice_text(claimed[0].unit_name, claimed[0].unit_id, claimed, levels, as_of, public_url)
    payload = robot_payload(hook.kind, title, text)
    tries = 0
    try:
        for attempt in Retrying(stop=stop_after_attempt(attempts), wait=wait_exponential(multiplier=0.2, max=3),
                                retry=retry_if_exception_type(RetryableSend), reraise=True):
            with attempt:
                tries += 1
                status = post_once(client, hook, payload)
    except (RetryableSend, RejectedSend) as exc:
        log.finish(batch_id, "released", None, tries, str(exc))
        outcome.released += len(claimed)
        return
    except UncertainSend as exc:
        log.finish(batch_id, "uncertain", None, tries, f"无应答 / no answer: {exc}")
        outcome.uncertain += len(claimed)
        return
    log.finish(batch_id, "sent", status, tries)
    outcome.sent += len(claimed)
    outcome.messages += 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="发送督办单 / send the follow-up notices of the current snapshot")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    config = HubConfig(data_dir=Path(args.data_dir))  # the HUB_* settings of this process's environment
    outcome = send_notices(config.paths, timeout=args.timeout, webhooks_csv=config.notice_webhooks,
                           public_url=config.public_url, warehouse_url=config.warehouse_engine.url)
    print(outcome.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
