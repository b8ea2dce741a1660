"""四平台 events: one JSON Lines file per day, events_YYYYMMDD.jsonl, each line one version of an event.

An event's life is simulated first (上报 → 受理 → 派单 → 签收 → [退回 → 改派] → [延期] → 办结 → 回访),
then written as it looked when pushed: usually once, in its latest state; about 10% are pushed
twice, first half-way, then again with a new status and a later updatedAt in a later day's file.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from hub.sample.breaks import BREAK_KINDS, BreakLog, break_record
from hub.sample.common import RATES, atomic_path, json_line, rng, stamp
from hub.sample.departments import dept_variant, town_government_variant
from hub.sample.event_kinds import (
    DEADLINE_HOURS,
    EVENT_KINDS,
    NEWER_PLATFORM,
    NEWER_PLATFORM_RATE,
    SOURCES,
    URGENCY,
    EventKind,
)
from hub.sample.geography import ROADS, Town, Village, point_near, town_variant, towns, villages_of
from hub.sample.people import person_name
from orchestration.ingest.contracts import FOUR_PLATFORMS

EVENT_COUNTS = {"small": 5_000, "medium": 100_000, "large": 1_000_000}
RESEND_SHARE = 0.10  # events pushed a second time with a new status
DAYS = 365
EVENT_ENTITY = FOUR_PLATFORMS.entities[0]
SOCIAL_GOVERNANCE_CENTRE = "区社会治理中心"
OPEN_STATUSES = ("待受理", "已受理", "处置中", "已退回")

Record = dict[str, object]


@dataclass(frozen=True)
class Step:
    at: datetime
    action: str
    from_dept: str
    to_dept: str
    opinion: str


@dataclass
class Life:
    """Everything about one event that does not change between its versions, plus its steps."""

    record: Record  # the fixed fields
    steps: list[Step]
    deadline: datetime  # as set at acceptance; a 延期 step adds three days
    dept_text: str
    satisfaction: str | None


STATUS_AFTER = {
    "上报": "待受理",
    "受理": "已受理",
    "派单": "处置中",
    "签收": "处置中",
    "改派": "处置中",
    "延期": "处置中",
    "督办": "处置中",
    "退回": "已退回",
    "办结": "已办结",
    "回访": "已办结",
}


def _hours(r: random.Random, mean: float) -> timedelta:
    return timedelta(seconds=int(r.expovariate(1 / mean) * 3600) + 60)


def report_time_on(r: random.Random, day: date) -> datetime:
    hour = r.choices(range(24), cum_weights=_HOUR_CUM)[0]
    return datetime.combine(day, time(hour, r.randrange(60), r.randrange(60)))


_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 12, 8, 10, 13, 13, 12, 10, 7, 6, 5, 4, 2, 1)
_HOUR_CUM = list(itertools.accumulate(_HOUR_WEIGHTS))


class EventFactory:
    """Builds events for a seed; keeps the town/village tables and the month weights ready."""

    def __init__(self, seed: int, grid_codes: dict[str, list[str]]) -> None:
        self.towns = towns()
        self.town_cum = list(itertools.accumulate(t.village_count for t in self.towns))
        self.hilly = [t for t in self.towns if t.is_hilly]
        self.villages: dict[str, list[Village]] = {t.code: villages_of(seed, t.code) for t in self.towns}
        self.grid_codes = grid_codes
        self.kind_cum = {m: list(itertools.accumulate(k.weight_in(m) for k in EVENT_KINDS)) for m in range(1, 13)}
        self.source_cum = list(itertools.accumulate(w for _, w in SOURCES))
        self.urgency_cum = list(itertools.accumulate(w for _, w in URGENCY))

    def _town(self, r: random.Random, kind: EventKind) -> Town:
        if kind.hilly_only:
            return r.choice(self.hilly)
        return self.towns[bisect.bisect_right(self.town_cum, r.random() * self.town_cum[-1])]

    def life(self, r: random.Random, event_id: str, reported: datetime) -> Life:
        kind = EVENT_KINDS[
            bisect.bisect_right(self.kind_cum[reported.month], r.random() * self.kind_cum[reported.month][-1])
        ]
        town = self._town(r, kind)
        village = r.choice(self.villages[town.code])
        road = r.choice(ROADS)
        address = f"{town.name}{village.name}{road}{r.randrange(1, 600)}号"
        words = {"village": village.name, "road": road, "address": address, "n": r.randrange(2, 60)}
        source = SOURCES[bisect.bisect_right(self.source_cum, r.random() * self.source_cum[-1])][0]
        urgency = URGENCY[bisect.bisect_right(self.urgency_cum, r.random() * self.urgency_cum[-1])][0]
        lng, lat = point_near(r, town)
        grids = self.grid_codes.get(village.code) or [f"{village.code}-01"]
        town_code_roll = r.random()
        if town_code_roll < RATES.event_town_code_empty:
            town_code = ""
        elif town_code_roll < RATES.event_town_code_empty + RATES.town_old_code:
            town_code = town.old_code
        else:
            town_code = town.code
        record: Record = {
            "eventId": event_id,
            "title": r.choice(kind.titles).format(**words),
            "content": kind.content.format(**words),
            "source": source,
            "platform": NEWER_PLATFORM if r.random() < NEWER_PLATFORM_RATE else kind.platform,
            "categoryL1": kind.category_l1,
            "categoryL2": kind.category_l2,
            "townName": town_variant(r, town),
            "townCode": town_code,
            "villageName": village.name,
            "gridCode": r.choice(grids),
            "address": address,
            "lng": lng,
            "lat": lat,
            "urgency": urgency,
        }
        centre = r.choice((f"{town.name}综合信息指挥室", f"{town.name}四平台", f"{town.name}基层治理中心"))

        def dept_of(canonical: str) -> str:
            return town_government_variant(r, town.name) if canonical == "town" else dept_variant(r, canonical)

        dept = dept_of(r.choice(kind.depts))
        reporter = {
            "网格巡查": f"网格员{person_name(r)}",
            "12345": "12345热线",
            "视频监控": "视频监控平台",
            "部门移交": dept_variant(r, "区应急管理局"),
            "群众上报": "群众",
        }[source]
        deadline = reported + timedelta(hours=DEADLINE_HOURS[urgency])
        steps = [Step(reported, "上报", reporter, centre, kind.category_l2)]
        now = reported + _hours(r, 0.3 if urgency == "特急" else 1.5)
        if r.random() < 0.03:  # 不予受理: sent back at the reception desk
            steps.append(Step(now, "退回", centre, reporter, "不属于受理范围，不予受理"))
            return Life(record, steps, deadline, "", None)
        steps.append(Step(now, "受理", centre, centre, "予以受理"))
        now += _hours(r, 1.0)
        first = dept_of(r.choice(("区城管局", "区林水局", "区住建局", "区应急管理局"))) if r.random() < 0.08 else dept
        steps.append(Step(now, "派单", centre, first, "请于时限内处置"))
        if first != dept:
            now += _hours(r, 6)
            steps.append(Step(now, "退回", first, centre, "非本单位职责，申请退回"))
            now += _hours(r, 3)
            steps.append(Step(now, "改派", centre, dept, f"改派至{dept}"))
        now += _hours(r, 2)
        steps.append(Step(now, "签收", dept, dept, "已签收"))
        span = deadline - reported
        late = r.random() < 0.15
        finish = reported + span * (r.uniform(1.05, 2.5) if late else r.uniform(0.1, 0.95))
        finish = max(finish, now + timedelta(minutes=30))
        if r.random() < 0.05:  # the version after this step carries a deadline three days later
            steps.append(Step(now + (finish - now) / 2, "延期", dept, centre, "需协调多部门，申请延期3天"))
        if late and r.random() < 0.4:
            overdue_at = reported + span + (finish - reported - span) / 2
            steps.append(Step(overdue_at, "督办", SOCIAL_GOVERNANCE_CENTRE, dept, "已超处置时限，请加快办理"))
        steps.append(Step(finish, "办结", dept, centre, "已处置完毕，现场已恢复"))
        satisfaction = r.choices(("满意", "基本满意", "不满意", None), weights=(70, 18, 8, 4))[0]
        if satisfaction:
            steps.append(Step(finish + _hours(r, 20), "回访", centre, reporter, f"回访{satisfaction}"))
        steps.sort(key=lambda s: s.at)
        return Life(record, steps, deadline, dept, satisfaction)


def _fmt(moment: datetime | None, local: bool) -> str | None:
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%d %H:%M:%S" if local else "%Y-%m-%dT%H:%M:%S+08:00")


def version(life: Life, upto: int, updated_at: datetime, local: bool) -> Record:
    """The event as pushed after its first ``upto`` steps."""
    steps = life.steps[:upto]
    first_at = {}
    for step in steps:
        first_at.setdefault(step.action, step.at)
    last = steps[-1].action
    status = "不予受理" if last == "退回" and "受理" not in first_at else STATUS_AFTER[last]
    accepted = "受理" in first_at
    record = dict(life.record)
    record.update(
        {
            "reportTime": _fmt(steps[0].at, local),
            "acceptTime": _fmt(first_at.get("受理"), local),
            "dispatchTime": _fmt(first_at.get("派单"), local),
            "deadline": _fmt(life.deadline + (timedelta(days=3) if "延期" in first_at else timedelta()), local)
            if accepted
            else None,
            "finishTime": _fmt(first_at.get("办结"), local),
            "status": status,
            "handleDept": (life.dept_text if "派单" in first_at else None) if life.dept_text else None,
            "satisfaction": life.satisfaction if "回访" in first_at else None,
            "isSupervised": "督办" in first_at,
            "updatedAt": _fmt(updated_at, local),
            "flows": [
                {
                    "seq": i,
                    "action": s.action,
                    "fromDept": s.from_dept,
                    "toDept": s.to_dept,
                    "time": _fmt(s.at, local),
                    "opinion": s.opinion,
                }
                for i, s in enumerate(steps, start=1)
            ],
        }
    )
    return record


class DayFiles:
    """Collects versions by the day of their updatedAt and writes each day's file once it is complete."""

    def __init__(self, folder: Path, seed: int, log: BreakLog) -> None:
        self.folder = folder
        self.seed = seed
        self.pending: dict[date, list[tuple[datetime, str, str]]] = {}
        self.log = log
        self.counts: dict[str, int] = {}

    def add(self, updated_at: datetime, record: Record, break_roll: float) -> None:
        rows = [record]
        if break_roll < RATES.contract_break:
            # Its own stream, so a spoilt row never shifts the random draws of the events after it.
            spoil = rng(self.seed, "breaks", record.get("eventId"), record.get("updatedAt"))
            kind, rows = break_record(spoil, EVENT_ENTITY, record, spoil.randrange(len(BREAK_KINDS)))
            self.log.add(f"{EVENT_ENTITY.table}:{kind}")
        bucket = self.pending.setdefault(updated_at.date(), [])
        for row in rows:
            bucket.append((updated_at, str(row.get("eventId", "")), json_line(row)))

    def flush(self, day: date) -> None:
        lines = sorted(self.pending.pop(day, []))
        name = f"events_{stamp(day)}.jsonl"
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.folder / name) as temp, temp.open("w", encoding="utf-8", newline="\n") as out:
            out.writelines(line + "\n" for _, _, line in lines)
        self.counts[f"four_platforms/{name}"] = len(lines)


def emit_versions(r: random.Random, life: Life, files: DayFiles, observed_until: datetime) -> None:
    """Push the event as seen by ``observed_until``; about 10% are pushed half-way first (re-sent).

    Draws the same random numbers whatever ``observed_until`` is, so a day's events do not
    depend on the as-of date: re-running the generator a day later rewrites old files identically.
    """
    local = r.random() < RATES.event_local_time
    resend = r.random() < RESEND_SHARE / 0.8  # only lives spanning several days qualify, ~80% of them
    final_lag, middle_lag, middle_roll = r.randrange(30, 600), r.randrange(30, 600), r.random()
    final_break, middle_break = r.random(), r.random()
    seen = [s for s in life.steps if s.at <= observed_until]
    final_upto = len(seen)
    final_at = min(seen[-1].at + timedelta(seconds=final_lag), observed_until)
    if resend:
        # The first push must show another status than the last, or the re-send would tell nothing new.
        final_status = STATUS_AFTER[seen[-1].action]
        earlier = [i for i in range(1, final_upto) if STATUS_AFTER[life.steps[i - 1].action] != final_status]
        if earlier:
            middle = earlier[int(middle_roll * len(earlier))]
            middle_at = life.steps[middle - 1].at + timedelta(seconds=middle_lag)
            if middle_at.date() < final_at.date():
                files.add(middle_at, version(life, middle, middle_at, local), middle_break)
    files.add(final_at, version(life, final_upto, final_at, local), final_break)


def daily_count(r: random.Random, total: int, day: date) -> int:
    base = total / DAYS * (0.75 if day.weekday() >= 5 else 1.1) * (1.2 if day.month in (6, 7, 8, 9) else 0.93)
    return int(base) + (1 if r.random() < base - int(base) else 0)


def write_new_events(factory: EventFactory, seed: int, day: date, total: int, files: DayFiles, end: datetime) -> int:
    """The events reported on ``day``, from a random stream of that day alone (so independent of as-of)."""
    r = rng(seed, "events", day.isoformat())
    count = daily_count(r, total, day)
    for seq in range(1, count + 1):
        life = factory.life(r, f"SJ{stamp(day)}{seq:06d}", report_time_on(r, day))
        emit_versions(r, life, files, end)
    return count


def write_events(
    out: Path,
    seed: int,
    scale: str,
    as_of: date,
    grid_codes: dict[str, list[str]],
    log: BreakLog,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write one file per day for the 365 days ending at as_of (inclusive)."""
    factory = EventFactory(seed, grid_codes)
    files = DayFiles(out / "four_platforms", seed, log)
    end = datetime.combine(as_of, time(23, 59, 59))
    total = EVENT_COUNTS[scale]
    first_day = as_of - timedelta(days=DAYS - 1)
    for offset in range(DAYS):
        day = first_day + timedelta(days=offset)
        count = write_new_events(factory, seed, day, total, files, end)
        files.flush(day)
        if progress:
            progress(count)
    return files.counts
