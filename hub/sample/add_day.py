"""One more day of events for an existing sample folder: new events plus re-sent open ones.

Used for incremental-run tests and benchmarks: the new file's versions all have an updatedAt
later than anything already in the folder, so a feed client should fetch exactly them.
"""

from __future__ import annotations

import csv
import json
import random
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path

from hub.sample.breaks import UNKNOWN_TOWN_CODE, UNKNOWN_TOWN_NAME, BreakLog
from hub.sample.common import rng, stamp
from hub.sample.departments import dept_variant
from hub.sample.events import (
    EVENT_COUNTS,
    EVENT_ENTITY,
    OPEN_STATUSES,
    RESEND_SHARE,
    DayFiles,
    EventFactory,
    write_new_events,
)
from orchestration.ingest.contracts import FieldType

FILE_DATE = re.compile(r"events_(\d{8})\.jsonl$")
LOOK_BACK_DAYS = 30


class AddDayError(ValueError):
    """A user error: bad folder or date (message in Chinese and English)."""


def event_file_dates(folder: Path) -> list[date]:
    found = []
    for path in folder.glob("events_*.jsonl"):
        match = FILE_DATE.search(path.name)
        if match:
            found.append(datetime.strptime(match.group(1), "%Y%m%d").date())
    return sorted(found)


def parse_event_time(value: object) -> datetime | None:
    """ISO-8601 with +08:00 or 'yyyy-MM-dd HH:mm:ss' local time -> naive local datetime; None when unparseable."""
    try:
        return datetime.fromisoformat(str(value)[:19].replace("T", " "))
    except ValueError:
        return None


def _grid_codes(out: Path) -> dict[str, list[str]]:
    path = out / "registry" / "grid_workers.csv"
    codes: dict[str, list[str]] = {}
    if path.exists():
        with path.open(encoding="utf-8-sig") as f:
            for row in csv.DictReader(f):
                if row.get("村社代码") and row.get("网格编号"):
                    codes.setdefault(row["村社代码"], []).append(row["网格编号"])
    return codes


def _open_events(folder: Path, days: list[date]) -> list[dict[str, object]]:
    """The latest version of each event still open in the last LOOK_BACK_DAYS files."""
    latest: dict[str, tuple[datetime, dict[str, object]]] = {}
    for day in days[-LOOK_BACK_DAYS:]:
        with (folder / f"events_{stamp(day)}.jsonl").open(encoding="utf-8") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                updated = parse_event_time(record.get("updatedAt"))
                event_id = record.get("eventId")
                if updated is None or not event_id or not _keeps_contract(record):
                    continue  # a planted broken row is not re-sent: the new day's breaks are its own
                if event_id not in latest or latest[event_id][0] < updated:
                    latest[event_id] = (updated, record)
    return [
        rec
        for _, rec in sorted(latest.values(), key=lambda item: str(item[1]["eventId"]))
        if rec.get("status") in OPEN_STATUSES
    ]


def _keeps_contract(record: dict[str, object]) -> bool:
    for spec in EVENT_ENTITY.fields:
        value = record.get(spec.name)
        if value in (None, ""):
            if spec.required:
                return False
            continue
        if spec.allowed and value not in spec.allowed:
            return False
        if spec.type == FieldType.DATETIME and parse_event_time(value) is None:
            return False
        if spec.type in (FieldType.TOWN, FieldType.TOWN_CODE) and value in (UNKNOWN_TOWN_NAME, UNKNOWN_TOWN_CODE):
            return False
    return True


def _close(r: random.Random, record: dict[str, object], finished: datetime) -> tuple[datetime, dict[str, object]]:
    """The event re-sent as finished on the new day, flows extended."""
    local = "T" not in str(record.get("updatedAt"))

    def fmt(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%d %H:%M:%S" if local else "%Y-%m-%dT%H:%M:%S+08:00")

    flows = list(record.get("flows") or [])  # type: ignore[call-overload]
    centre = str(flows[0]["toDept"]) if flows else "四平台"
    dept = str(record.get("handleDept") or dept_variant(r, "区城管局"))  # not yet dispatched: the usual handler
    satisfied = r.choice(("满意", "基本满意", "不满意", None))
    updated = dict(record)
    moment = finished - timedelta(hours=2)
    if not record.get("acceptTime"):
        updated["acceptTime"] = fmt(moment)
        flows.append(
            {"action": "受理", "fromDept": centre, "toDept": centre, "time": fmt(moment), "opinion": "予以受理"}
        )
    if record.get("status") == "已退回":  # the department sent it back: dispatch it again first
        flows.append(
            {"action": "改派", "fromDept": centre, "toDept": dept, "time": fmt(moment), "opinion": f"改派至{dept}"}
        )
    if not record.get("dispatchTime"):
        updated["dispatchTime"] = fmt(moment + timedelta(minutes=30))
        flows.append(
            {
                "action": "派单",
                "fromDept": centre,
                "toDept": dept,
                "time": fmt(moment + timedelta(minutes=30)),
                "opinion": "请于时限内处置",
            }
        )
    flows.append(
        {
            "action": "办结",
            "fromDept": dept,
            "toDept": centre,
            "time": fmt(finished),
            "opinion": "已处置完毕，现场已恢复",
        }
    )
    last = finished
    if satisfied:
        last = finished + timedelta(minutes=40)
        flows.append(
            {"action": "回访", "fromDept": centre, "toDept": "群众", "time": fmt(last), "opinion": f"回访{satisfied}"}
        )
    updated.update(
        {
            "status": "已办结",
            "finishTime": fmt(finished),
            "handleDept": dept,
            "satisfaction": satisfied,
            "updatedAt": fmt(last + timedelta(minutes=5)),
            "flows": [
                {"seq": i, **{k: v for k, v in flow.items() if k != "seq"}} for i, flow in enumerate(flows, start=1)
            ],
        }
    )
    return last + timedelta(minutes=5), updated


def add_day(out: Path, seed: int = 7, day: date | None = None, scale: str = "small") -> dict[str, int]:
    """Write events_<day>.jsonl into out/four_platforms; day defaults to the day after the latest file."""
    folder = out / "four_platforms"
    days = event_file_dates(folder) if folder.is_dir() else []
    if not days:
        raise AddDayError(
            f"{folder} 中没有 events_YYYYMMDD.jsonl 文件 / no events files in {folder}: run `hub sample` first"
        )
    day = day or days[-1] + timedelta(days=1)
    if day <= days[-1]:
        raise AddDayError(
            f"--date {day} 不晚于已有的最新文件 events_{stamp(days[-1])}.jsonl / "
            f"--date must be after the latest existing events file ({days[-1]})"
        )
    files = DayFiles(folder, seed, BreakLog({}))
    end = datetime.combine(day, time(23, 59, 59))
    # New events come from the same per-day stream the generator uses for that day.
    count = write_new_events(EventFactory(seed, _grid_codes(out)), seed, day, EVENT_COUNTS[scale], files, end)
    r = rng(seed, "add-day", day.isoformat())
    open_events = _open_events(folder, days)
    for record in r.sample(open_events, min(len(open_events), max(1, round(count * RESEND_SHARE)))):
        finished = datetime.combine(day, time(r.randrange(8, 20), r.randrange(60), r.randrange(60)))
        updated_at, updated = _close(r, record, finished)
        files.add(updated_at, updated, r.random())
    files.flush(day)
    return files.counts
