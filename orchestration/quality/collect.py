"""Measure every check of one run on the build database.

Reads the dbt models of ``dbt_project/models/quality`` (freshness, volume, rule checks), the
shared ``unmapped_values`` model and the ingest quarantine. Rows quarantined by ingestion are
sorted into the kind of problem they are (a missing required field is completeness, a repeated
id uniqueness, an unknown town crosswalk, anything else validity), so each department sees one
check per problem kind and entity, whether the row was stopped at the door or found later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb

from hub.core.quoting import quote_ident
from orchestration.ingest import problems
from orchestration.ingest.contracts import ENTITIES, SOURCES, SOURCES_BY_NAME, Entity
from orchestration.ingest.schema import raw_table_name
from orchestration.quality.results import (
    FAIL,
    KIND_LABELS,
    KIND_SEVERITY,
    PASS,
    WARN,
    CheckResult,
    Finding,
    row_status,
    row_threshold,
    share_percent,
)

MAX_FINDINGS = 500  # rows to fix kept per check; the count is always exact

CROSSWALK_REASONS = (problems.UNKNOWN_TOWN, problems.BAD_TOWN_CODE, problems.BAD_VILLAGE_CODE)
# Words for checks that are not about one entity (dbt rules with a name of their own).
RULE_SUBJECTS = {"consistency:water_utility.assets": "同一水库、供水设施两部门登记的责任单位"}
UNMAPPED_KIND_LABELS = {"town": "镇街", "village": "村社", "unit": "单位", "category": "类别"}

# The latest load of every file name that was read: the rows as currently delivered.
CURRENT_LOADS_SQL = """
SELECT source_system, entity, source_file, load_id, status, rows_read
FROM (
    SELECT *, row_number() OVER (PARTITION BY source_system, entity, source_file
                                 ORDER BY started_at DESC, load_id DESC) AS load_rank
    FROM raw.load_log WHERE status IN ('loaded', 'rejected')
) WHERE load_rank = 1
"""


# The dbt models the checks read (find_relation), upstream of the quality report.
DBT_QUALITY_MODELS = ("quality_freshness", "quality_volume", "quality_rule_results", "quality_rule_findings",
                      "unmapped_values")

def check_title(source: str, entity: Entity | None, kind: str) -> str:
    owner = SOURCES_BY_NAME[source].owner_label if source in SOURCES_BY_NAME else source
    parts = [owner] + ([entity.label] if entity else []) + [KIND_LABELS.get(kind, kind)]
    return " · ".join(parts)


def find_relation(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """Schema-qualified name of a dbt model's table or view (schemas differ between targets), or None."""
    row = con.execute(
        "SELECT table_schema FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_name = ? AND table_schema <> 'raw' "
        "ORDER BY table_schema LIMIT 1",
        [name],
    ).fetchone()
    return f'"{row[0]}"."{name}"' if row else None


def has_raw_log(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = 'raw' AND table_name IN ('load_log', 'quarantine')"
    ).fetchone()
    return bool(row and row[0] == 2)


@dataclass
class RowCheck:
    """A row-level check being assembled from several places (quarantine, dbt rules, unmapped values)."""

    kind: str
    source: str
    entity: Entity
    owner_dept: str
    check_name: str | None = None  # a rule's own name (cross-source checks); default <kind>:<source>.<entity>
    title: str | None = None
    failing: set[str] = field(default_factory=set)
    extra_failing: int = 0  # unmapped values: one item per distinct value (its rows are said in the reason)
    rows_checked: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.check_name or f"{self.kind}:{self.source}.{self.entity.name}"

    def add(self, identity: str, finding: Finding) -> None:
        if identity not in self.failing and len(self.findings) < MAX_FINDINGS:
            self.findings.append(finding)
        self.failing.add(identity)

    def result(self, delivered_rows: int) -> CheckResult:
        total = max(delivered_rows, self.rows_checked)
        failing = len(self.failing) + self.extra_failing
        # Crosswalk findings mix quarantined rows and distinct unmapped values: counted as items, not a share.
        counted = self.kind == "crosswalk"
        return CheckResult(
            check_name=self.name,
            kind=self.kind,
            source=self.source,
            entity=self.entity.name,
            owner_dept=self.owner_dept,
            severity=KIND_SEVERITY[self.kind],
            status=row_status(self.kind, failing, total),
            measured_value=float(failing) if counted else share_percent(failing, total),
            threshold="0 项；有则警告（镇街、单位、类别名称须能映射）" if counted else row_threshold(self.kind, total),
            unit="项" if counted else "%",
            failing_rows=failing,
            total_rows=total,
            title=self.title or check_title(self.source, self.entity, self.kind),
            findings=self.findings,
        )


def _row_checks() -> dict[str, RowCheck]:
    """The catalogue of row-level checks: every entity gets each kind, so a clean entity shows a pass."""
    checks: dict[str, RowCheck] = {}
    for entity in ENTITIES:
        kinds = ["completeness", "validity", "crosswalk"] + (["uniqueness"] if entity.key else [])
        for kind in kinds:
            check = RowCheck(kind, entity.source, entity, SOURCES_BY_NAME[entity.source].owner)
            checks[check.name] = check
    return checks


def _entity(source: str, name: str) -> Entity | None:
    return next((e for e in ENTITIES if e.source == source and e.name == name), None)


def record_key(entity: Entity, raw_record: str | None) -> str | None:
    """The business key of a quarantined row, read from the row as it arrived (JSON, maybe truncated)."""
    if not raw_record or not entity.key:
        return None
    values: list[str] = []
    try:
        record = json.loads(raw_record)
        values = [str(record.get(k) or "") for k in entity.key]
    except (ValueError, AttributeError):
        for k in entity.key:
            found = re.search(r'"' + re.escape(k) + r'"\s*:\s*"([^"]*)"', raw_record)
            values.append(found.group(1) if found else "")
    return " / ".join(values) if any(values) else None


def quarantine_kind(reason: str) -> str:
    kind = problems.reason_kind(reason)
    if kind == problems.REQUIRED_EMPTY:
        return "completeness"
    if kind == problems.DUPLICATED_ID:
        return "uniqueness"
    if kind in CROSSWALK_REASONS:
        return "crosswalk"
    return "validity"


def _add_quarantine(con: duckdb.DuckDBPyConnection, checks: dict[str, RowCheck]) -> None:
    rows = con.execute(
        f"""
        SELECT q.source_system, q.entity, q.source_file, q.row_number, q.field, q.value, q.reason, q.raw_record
        FROM raw.quarantine AS q JOIN ({CURRENT_LOADS_SQL}) AS cur USING (load_id)
        WHERE q.row_number IS NOT NULL
        ORDER BY q.source_system, q.entity, q.source_file, q.row_number
        """
    ).fetchall()
    for source, entity_name, source_file, row_number, field_name, value, reason, raw_record in rows:
        entity = _entity(source, entity_name)
        if entity is None:
            continue
        check = checks[f"{quarantine_kind(reason)}:{source}.{entity_name}"]
        location = f"{source_file} 第 {row_number} 行"
        key = record_key(entity, raw_record)
        # One record to fix, even when it came twice (a daily file and the HTTP feed, or two daily files).
        identity = f"key#{key}" if key else f"{source_file}#{row_number}"
        check.add(identity, Finding(key=key or location, reason=reason, field=field_name, value=value,
                                    location=location))


KEY_CONFLICT = "同一天的两份文件中同一编号内容不同 / one key with different content in two files of one day"


def _add_key_conflicts(con: duckdb.DuckDBPyConnection, checks: dict[str, RowCheck]) -> None:
    """Uniqueness across the files of one delivery day: the same key in two daily files dated the same day
    (城管案件_20260701.csv and 城管案件_20260701_补报.csv) with different content. Staging keeps one of them by
    its tie-break (later load, then later file name); the finding names both files and the one kept."""
    tables = {t for (t,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = 'raw'").fetchall()}
    for entity in ENTITIES:
        if entity.snapshot or not entity.key or entity.table not in tables:
            continue
        key_text = " || ' / ' || ".join(f"coalesce(CAST(r.{quote_ident(k)} AS VARCHAR), '')" for k in entity.key)
        rows = con.execute(
            rf"""
            WITH files AS (
                SELECT DISTINCT _source_file, regexp_extract(_source_file, '(\d{{8}})', 1) AS day
                FROM {raw_table_name(entity)}
                WHERE regexp_matches(_source_file, '\d{{8}}')
            ),
            -- only files that share a delivery day with another file can conflict: group those rows only
            shared_days AS (
                SELECT _source_file, day FROM files QUALIFY count(*) OVER (PARTITION BY day) > 1
            ),
            versions AS (
                SELECT {key_text} AS row_key, f.day, r._source_file, r._row_number, r._row_hash, r._loaded_at
                FROM {raw_table_name(entity)} AS r
                JOIN shared_days AS f USING (_source_file)
            )
            SELECT row_key, day,
                   list(DISTINCT _source_file ORDER BY _source_file) AS files,
                   list(_source_file || ' 第 ' || _row_number || ' 行' ORDER BY _source_file, _row_number) AS places,
                   first(_source_file ORDER BY _loaded_at DESC, _source_file DESC, _row_number DESC) AS kept
            FROM versions
            GROUP BY row_key, day
            HAVING count(DISTINCT _source_file) > 1 AND count(DISTINCT _row_hash) > 1
            ORDER BY day, row_key
            """
        ).fetchall()
        check = checks.get(f"uniqueness:{entity.source}.{entity.name}")
        if check is None:
            continue
        for row_key, day, files, places, kept in rows:
            check.add(f"conflict#{day}#{row_key}", Finding(
                key=row_key,
                reason=f"{KEY_CONFLICT}: {'、'.join(files)}（采用 / kept: {kept}）",
                field=" + ".join(entity.key),
                value=row_key,
                location="; ".join(places),
            ))


def _add_unmapped(con: duckdb.DuckDBPyConnection, checks: dict[str, RowCheck]) -> None:
    relation = find_relation(con, "unmapped_values")
    if relation is None:
        return
    rows = con.execute(
        f'SELECT source, entity, field, value, kind, "rows" FROM {relation} ORDER BY source, entity, "rows" DESC, value'
    ).fetchall()
    for source, entity_name, field_name, value, kind, count in rows:
        check = checks.get(f"crosswalk:{source}.{entity_name}")
        if check is None:
            continue
        label = UNMAPPED_KIND_LABELS.get(kind, kind)
        if len(check.findings) < MAX_FINDINGS:
            check.findings.append(Finding(
                key=str(value), field=field_name, value=str(value),
                reason=f"{label}名称无法映射（{count} 行）/ no {kind} in the crosswalk matches this value",
            ))
        check.extra_failing += 1


def _add_rules(con: duckdb.DuckDBPyConnection, checks: dict[str, RowCheck]) -> list[CheckResult]:
    """dbt rule checks: merged into the entity's check of the same name, or checks of their own."""
    results_rel, findings_rel = find_relation(con, "quality_rule_results"), find_relation(con, "quality_rule_findings")
    if results_rel is None or findings_rel is None:
        return []
    own: dict[str, RowCheck] = {}
    for name, kind, source, entity_name, owner, rows_checked in con.execute(
        f"SELECT check_name, check_kind, source_system, entity, owner_dept, rows_checked FROM {results_rel}"
    ).fetchall():
        entity = _entity(source, entity_name)
        if entity is None:
            continue
        check = checks.get(name)
        if check is None:
            owner = owner or SOURCES_BY_NAME[source].owner
            title = f"{owner} · {KIND_LABELS.get(kind, kind)} · {RULE_SUBJECTS.get(name, name.split(':', 1)[-1])}"
            check = RowCheck(kind, source, entity, owner, check_name=name, title=title)
            own[name] = check
        check.rows_checked = max(check.rows_checked, int(rows_checked))
    for name, row_key, field_name, value, reason in con.execute(
        f"SELECT check_name, row_key, field, value, reason FROM {findings_rel} ORDER BY check_name, row_key"
    ).fetchall():
        check = checks.get(name) or own.get(name)
        if check is not None:
            check.add(f"rule#{row_key}", Finding(key=str(row_key), reason=reason, field=field_name, value=value))
    return [check.result(0) for check in own.values()]


def delivered_rows(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], int]:
    return {
        (source, entity): int(rows)
        for source, entity, rows in con.execute(
            f"SELECT source_system, entity, sum(rows_read) FROM ({CURRENT_LOADS_SQL}) GROUP BY ALL"
        ).fetchall()
    }


def _freshness(con: duckdb.DuckDBPyConnection) -> list[CheckResult]:
    relation = find_relation(con, "quality_freshness")
    if relation is None:
        return []
    results = []
    for source, last_date, max_age, age, status in con.execute(
        f"SELECT source_system, last_delivery_date, max_age_days, age_days, status FROM {relation} ORDER BY 1"
    ).fetchall():
        if source not in SOURCES_BY_NAME:
            continue
        findings = []
        if status != PASS:
            said = f"最近一次交付 {last_date}，已 {age} 天未更新" if last_date else "从未收到数据 / never delivered"
            findings.append(Finding(key=str(last_date or "—"), reason=said))
        results.append(CheckResult(
            check_name=f"freshness:{source}", kind="freshness", source=source, entity=None,
            owner_dept=SOURCES_BY_NAME[source].owner, severity=KIND_SEVERITY["freshness"], status=status,
            measured_value=float(age) if age is not None else None,
            threshold=f"≤ {max_age} 天（超过 {2 * max_age} 天不通过）", unit="天",
            title=check_title(source, None, "freshness"),
            note=f"最近交付日期 / last delivery: {last_date or '无 / none'}", findings=findings,
        ))
    return results


def _volume(con: duckdb.DuckDBPyConnection) -> list[CheckResult]:
    relation = find_relation(con, "quality_volume")
    if relation is None:
        return []
    results = []
    for (source, entity_name, day, latest, baseline_n, baseline, ratio, drop, spike, status) in con.execute(
        f"SELECT source_system, entity, latest_delivery_date, latest_rows, baseline_deliveries, baseline_rows, "
        f"ratio, volume_drop_tolerance, volume_spike_tolerance, status FROM {relation} ORDER BY 1, 2"
    ).fetchall():
        entity = _entity(source, entity_name)
        if entity is None:
            continue
        if baseline is None or not baseline_n:
            threshold, note = "历史交付不足，暂不判断 / not enough earlier deliveries", ""
        else:
            threshold = f"前 {baseline_n} 次交付中位数 {baseline:.0f} 行的 -{drop:.0%} ~ +{spike:.0%}"
            note = f"本次 / latest {day}: {latest} 行，为基线的 {ratio:.0%}"
        findings = [Finding(key=str(day), reason=note)] if status != PASS else []
        results.append(CheckResult(
            check_name=f"volume:{source}.{entity_name}", kind="volume", source=source, entity=entity_name,
            owner_dept=SOURCES_BY_NAME[source].owner, severity=KIND_SEVERITY["volume"], status=status,
            measured_value=float(latest), threshold=threshold, unit="行",
            title=check_title(source, entity, "volume"), note=note, findings=findings,
        ))
    return results


def _quarantine_summaries(con: duckdb.DuckDBPyConnection) -> list[CheckResult]:
    counts = {
        (source, reason): int(n)
        for source, reason, n in con.execute(
            f"""
            SELECT q.source_system, split_part(q.reason, ': ', 1), count(DISTINCT q.source_file || '#' ||
                   coalesce(CAST(q.row_number AS VARCHAR), 'file'))
            FROM raw.quarantine AS q JOIN ({CURRENT_LOADS_SQL}) AS cur USING (load_id) GROUP BY ALL
            """
        ).fetchall()
    }
    rejected = dict(con.execute(
        f"SELECT source_system, count(*) FROM ({CURRENT_LOADS_SQL}) WHERE status = 'rejected' GROUP BY ALL"
    ).fetchall())
    rows = dict(con.execute(
        f"""
        SELECT q.source_system, count(DISTINCT q.source_file || '#' || q.row_number)
        FROM raw.quarantine AS q JOIN ({CURRENT_LOADS_SQL}) AS cur USING (load_id)
        WHERE q.row_number IS NOT NULL GROUP BY ALL
        """
    ).fetchall())
    results = []
    for source in SOURCES:
        quarantined, files = int(rows.get(source.name, 0)), int(rejected.get(source.name, 0))
        status = FAIL if files else (WARN if quarantined else PASS)
        reasons = sorted(((n, r) for (s, r), n in counts.items() if s == source.name), reverse=True)
        results.append(CheckResult(
            check_name=f"quarantine:{source.name}", kind="quarantine", source=source.name, entity=None,
            owner_dept=source.owner, severity=KIND_SEVERITY["quarantine"], status=status,
            measured_value=float(quarantined), threshold="0 行被隔离、0 个文件被拒收", unit="行",
            failing_rows=quarantined, title=check_title(source.name, None, "quarantine"),
            note=f"拒收文件 / rejected files: {files}" if files else "",
            findings=[Finding(key=reason, value=f"{n} 行", reason=f"{n} 行 / rows") for n, reason in reasons],
        ))
    return results


def collect_results(con: duckdb.DuckDBPyConnection) -> list[CheckResult]:
    """Every check of this run, measured on an open connection to the build database."""
    if not has_raw_log(con):
        return []
    checks = _row_checks()
    _add_quarantine(con, checks)
    _add_key_conflicts(con, checks)
    _add_unmapped(con, checks)
    own_rules = _add_rules(con, checks)
    delivered = delivered_rows(con)
    row_results = [c.result(delivered.get((c.source, c.entity.name), 0)) for c in checks.values()]
    return sort_results([*_freshness(con), *_volume(con), *row_results, *own_rules, *_quarantine_summaries(con)])


def sort_results(results: Iterable[CheckResult]) -> list[CheckResult]:
    from orchestration.quality.results import KIND_ORDER

    source_order = {s.name: i for i, s in enumerate(SOURCES)}
    return sorted(results, key=lambda r: (source_order.get(r.source, 99), KIND_ORDER.get(r.kind, 99),
                                          r.entity or "", r.check_name))
