"""督办单 notices: each item once per escalation level, through reruns, a SIGKILL mid-send and a webhook that
answers 500 then 200.

Real components: a serving snapshot file holding ``followup_items`` (written here with the columns of the dbt
model), the real sender (orchestration/assessment/notices.py) with its SQLite notice log, and a local HTTP
receiver standing in for the chat robots. The receiver counts the notices it accepted (answered 200, or took in
before the sender died) per (robot, item, level), parsed from the DingTalk-style markdown message.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest

from hub.core.paths import HubPaths
from hub.core.pointer import new_build_path, publish_build, version_name
from orchestration.assessment.notices import NoticeLog, load_webhooks, log_path, send_notices, webhooks_file

LEVEL_NAMES = {"提醒": 1, "督办": 2, "约谈通报": 3}  # seeds/followup_escalation.csv: 3, 7, 15 days


class Receiver:
    """A chat-robot stand-in. ``mode``: ok | fail_first (500 to the first POST per robot, then 200) |
    hang_first (takes in the first POST of robot ``hang_path`` and never answers)."""

    def __init__(self) -> None:
        self.accepted: Counter[tuple[str, str, int]] = Counter()
        self.posts: Counter[str] = Counter()
        self.statuses: list[tuple[str, int]] = []
        self.bodies: list[str] = []  # every message posted, as JSON text
        self.mode = "ok"
        self.hang_path = ""
        self.hanging = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.bodies.append(json.dumps(body, ensure_ascii=False))
                with receiver.lock:
                    receiver.posts[self.path] += 1
                    first = receiver.posts[self.path] == 1
                    if receiver.mode == "fail_first" and first:
                        status = 500
                    else:
                        status = 200
                        for key in parse_items(body):
                            receiver.accepted[(self.path, *key)] += 1
                    receiver.statuses.append((self.path, status))
                if receiver.mode == "hang_first" and first and self.path == receiver.hang_path:
                    receiver.hanging.set()
                    receiver.release.wait(30)
                    return
                answer = json.dumps({"errcode": 0 if status == 200 else 500, "errmsg": "ok"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def parse_items(body: dict[str, Any]) -> list[tuple[str, int]]:
    """(item_key, level) of every item line of a DingTalk (markdown.text) or WeCom (markdown.content) message."""
    markdown = body["markdown"]
    text = markdown.get("text") or markdown.get("content") or ""
    found, level = [], 0
    for line in text.splitlines():
        heading = re.fullmatch(r"\*\*【(.+)】\*\*", line.strip())
        if heading:
            level = LEVEL_NAMES[heading.group(1)]
        key = re.search(r"编号 (\S+?)）$", line.strip())
        if line.startswith("- ") and key:
            found.append((key.group(1), level))
    return found


ITEM_COLUMNS = ("unit_kind", "unit_id", "unit_name", "item_kind", "item_key", "evidence_table", "evidence_key",
                "detail", "owner", "deadline", "age_days", "escalation_level", "as_of_date")


def item(unit_kind: str, unit_id: str, unit_name: str, kind: str, key: str, age: int | None) -> dict[str, Any]:
    return {"unit_kind": unit_kind, "unit_id": unit_id, "unit_name": unit_name, "item_kind": kind, "item_key": key,
            "evidence_table": "hidden_danger_register" if kind == "overdue_danger" else "rescue_teams",
            "evidence_key": key.split(":", 1)[1], "detail": f"测试事项 {key}", "owner": unit_name, "deadline": None,
            "age_days": age, "escalation_level": None, "as_of_date": None}


# as of 2025-07-10 (ages from the deadline): 区城管局 HD001 71 days → level 3; 城厢街道 HD003 20 days → 3 and T003
# (no deadline: first seen today, 0 days → none yet); 区林水局 HD004 11 days → 2; 区林水局 HD009 2 days → none.
ITEMS = [
    item("department", "区城管局", "区城管局", "overdue_danger", "danger:registry:HD001", 71),
    item("town", "330109001", "城厢街道", "overdue_danger", "danger:registry:HD003", 20),
    item("town", "330109001", "城厢街道", "team_without_agreement", "team:T003", None),
    item("department", "区林水局", "区林水局", "overdue_danger", "danger:registry:HD004", 11),
    item("department", "区林水局", "区林水局", "overdue_danger", "danger:registry:HD009", 2),
]


def publish_items(paths: HubPaths, as_of: date, items: list[dict[str, Any]]) -> Path:
    """A serving snapshot holding followup_items as of ``as_of``, made current."""
    paths.serving.mkdir(parents=True, exist_ok=True)
    name = version_name("serving", ".duckdb")
    temp = new_build_path(paths.serving, name)
    con = duckdb.connect(str(temp))
    try:
        con.execute("CREATE TABLE _snapshot (built_at TIMESTAMP, as_of DATE, row_counts JSON)")
        con.execute("INSERT INTO _snapshot VALUES (now(), ?, '{}')", [as_of])
        con.execute("CREATE TABLE followup_items (unit_kind VARCHAR, unit_id VARCHAR, unit_name VARCHAR, "
                    "item_kind VARCHAR, item_key VARCHAR, evidence_table VARCHAR, evidence_key VARCHAR, "
                    "detail VARCHAR, owner VARCHAR, deadline DATE, age_days INTEGER, escalation_level INTEGER, "
                    "as_of_date DATE)")
        con.executemany(f"INSERT INTO followup_items VALUES ({', '.join('?' for _ in ITEM_COLUMNS)})",
                        [[{**r, "as_of_date": as_of}[c] for c in ITEM_COLUMNS] for r in items])
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return publish_build(paths.serving, temp, name)


def aged(items: list[dict[str, Any]], days: int) -> list[dict[str, Any]]:
    return [{**r, "age_days": r["age_days"] + days if r["age_days"] is not None else None} for r in items]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def hub(tmp_path: Path, receiver: Receiver) -> HubPaths:
    paths = HubPaths(tmp_path / "data")
    hooks = webhooks_file(paths)  # where a deployment without HUB_NOTICE_WEBHOOKS keeps them
    hooks.parent.mkdir(parents=True, exist_ok=True)
    hooks.write_text("unit,url,kind\n"
                     f"区城管局,{receiver.url('/robot/urban')},dingtalk\n"
                     f"330109001,{receiver.url('/robot/chengxiang')},zzd\n"
                     f"区林水局,{receiver.url('/robot/water')},wecom\n", encoding="utf-8")
    return paths


FIRST_DAY = {("/robot/urban", "danger:registry:HD001", 3), ("/robot/chengxiang", "danger:registry:HD003", 3),
             ("/robot/water", "danger:registry:HD004", 2)}


def test_webhooks_file_names_each_units_robot(hub: HubPaths) -> None:
    hooks = load_webhooks(webhooks_file(hub))
    assert {u: h.kind for u, h in hooks.items()} == {"区城管局": "dingtalk", "330109001": "zzd", "区林水局": "wecom"}


def test_a_rerun_sends_nothing_twice_and_escalation_sends_each_new_level_once(hub: HubPaths,
                                                                             receiver: Receiver) -> None:
    day = date(2025, 7, 10)
    publish_items(hub, day, ITEMS)
    first = send_notices(hub)
    assert (first.messages, first.sent) == (3, 3)
    assert set(receiver.accepted) == FIRST_DAY and set(receiver.accepted.values()) == {1}
    again = send_notices(hub)  # the same snapshot again
    assert (again.messages, again.sent, again.already) == (0, 0, 3)
    # three days later: T003 first seen 07-10 → 3 days → level 1 (提醒); HD009 2 + 3 = 5 → 1; HD004 14 → still 2
    publish_items(hub, day + timedelta(days=3), aged(ITEMS, 3))
    later = send_notices(hub)
    assert later.sent == 2 and later.already == 3
    # eight days later: T003 7 days → 2; HD009 10 → 2; HD004 19 → 3 (each a new level, sent once)
    publish_items(hub, day + timedelta(days=8), aged(ITEMS, 8))
    send_notices(hub)
    send_notices(hub)
    assert set(receiver.accepted.values()) == {1}
    assert set(receiver.accepted) == FIRST_DAY | {
        ("/robot/chengxiang", "team:T003", 1), ("/robot/water", "danger:registry:HD009", 1),
        ("/robot/chengxiang", "team:T003", 2), ("/robot/water", "danger:registry:HD009", 2),
        ("/robot/water", "danger:registry:HD004", 3)}
    log = NoticeLog(log_path(hub))
    try:
        assert {r["status"] for r in log.rows()} == {"sent"} and len(log.rows()) == 8
    finally:
        log.close()


def test_a_webhook_answering_500_then_200_gets_each_notice_once(hub: HubPaths, receiver: Receiver) -> None:
    receiver.mode = "fail_first"
    publish_items(hub, date(2025, 7, 10), ITEMS)
    outcome = send_notices(hub)
    assert outcome.sent == 3 and outcome.released == 0
    # every robot answered 500 first, then 200 to the retry (tenacity): one accepted notice per item and level
    assert sorted(s for _, s in receiver.statuses) == [200, 200, 200, 500, 500, 500]
    assert set(receiver.accepted) == FIRST_DAY and set(receiver.accepted.values()) == {1}
    assert send_notices(hub).sent == 0  # and a rerun adds nothing
    log = NoticeLog(log_path(hub))
    try:
        assert {(r["status"], r["attempts"], r["http_status"]) for r in log.rows()} == {("sent", 2, 200)}
    finally:
        log.close()


def test_a_sender_killed_mid_send_never_sends_twice(hub: HubPaths, receiver: Receiver, tmp_path: Path) -> None:
    publish_items(hub, date(2025, 7, 10), ITEMS)
    # the 浙政钉 robot of 城厢街道 takes the message in and does not answer; the sender is SIGKILLed meanwhile
    receiver.mode, receiver.hang_path = "hang_first", "/robot/chengxiang"
    env = {k: v for k, v in os.environ.items() if k != "HUB_NOTICE_WEBHOOKS"}
    sender = subprocess.Popen(
        [sys.executable, "-m", "orchestration.assessment.notices", "--data-dir", str(hub.data_dir), "--timeout", "60"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert receiver.hanging.wait(60), sender.communicate(timeout=5)
        os.kill(sender.pid, signal.SIGKILL)
        sender.wait(timeout=10)
    finally:
        if sender.poll() is None:
            sender.kill()
    assert sender.returncode == -signal.SIGKILL
    receiver.mode = "ok"
    receiver.release.set()
    rerun = send_notices(hub)
    # the killed send stays as it was (uncertain: it may have arrived, and it did); the others are sent once
    assert rerun.uncertain == 1
    assert set(receiver.accepted) == FIRST_DAY and set(receiver.accepted.values()) == {1}
    assert send_notices(hub).sent == 0
    log = NoticeLog(log_path(hub))
    try:
        status = {(r["unit_id"], r["item_key"]): r["status"] for r in log.rows()}
    finally:
        log.close()
    assert status == {("330109001", "danger:registry:HD003"): "uncertain",
                      ("区城管局", "danger:registry:HD001"): "sent", ("区林水局", "danger:registry:HD004"): "sent"}


def test_notices_link_to_the_printable_page_only_when_the_public_url_is_set(hub: HubPaths,
                                                                         receiver: Receiver) -> None:
    publish_items(hub, date(2025, 7, 10), ITEMS)
    send_notices(hub, public_url="https://hub.example.gov.cn/")
    assert any("https://hub.example.gov.cn/assessment/notice/330109001" in b for b in receiver.bodies)
    receiver.bodies.clear()
    later = hub.data_dir / "later"
    publish_items(HubPaths(later), date(2025, 7, 10), ITEMS)
    send_notices(HubPaths(later), webhooks_csv=webhooks_file(hub))  # HUB_NOTICE_WEBHOOKS, as a deployment sets it
    assert receiver.bodies and not any("/assessment/notice/" in b for b in receiver.bodies)
