"""Two files of one delivery day with the same key and different content are both kept in raw; staging picks one
by its tie-break. The quality report says so: a uniqueness finding naming both files and the one kept (issue 16)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.ingest.load import ingest_landing
from orchestration.quality.collect import KEY_CONFLICT, collect_results

HEADER = "案件编号,来源,大类,小类,镇街,上报时间,派遣单位,处置时限,结案时间,处置结果\n"


def write_gbk(path: Path, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((HEADER + "".join(r + "\n" for r in rows)).encode("gbk"))


def case(case_id: str, result: str) -> str:
    return f"{case_id},数字城管,市容环境,暴露垃圾,蜀山街道,2024-05-01 08:00:00,蜀山街道,,,{result}"


def test_same_key_different_content_in_two_files_of_one_day_is_a_finding(tmp_path: Path) -> None:
    urban = tmp_path / "landing" / "urban"
    write_gbk(urban / "城管案件_20240501.csv", [case("CG100", "已清理"), case("CG101", "已清理")])
    write_gbk(urban / "城管案件_20240501_补报.csv", [case("CG100", "未处理"), case("CG101", "已清理")])  # same CG101
    write_gbk(urban / "城管案件_20240502.csv", [case("CG100", "复查完毕")])  # next day: a new version, no conflict
    db = tmp_path / "hub.duckdb"
    ingest_landing(db, tmp_path / "landing")
    with duckdb.connect(str(db), read_only=True) as con:
        results = {r.check_name: r for r in collect_results(con)}
    check = results["uniqueness:urban.cases"]
    conflicts = [f for f in check.findings if KEY_CONFLICT in f.reason]
    assert [f.key for f in conflicts] == ["CG100"], conflicts  # CG101 has the same content in both: no conflict
    finding = conflicts[0]
    assert "城管案件_20240501.csv" in finding.reason and "城管案件_20240501_补报.csv" in finding.reason
    assert "kept: urban/城管案件_20240501_补报.csv" in finding.reason
    assert "城管案件_20240502.csv" not in finding.reason
    assert finding.location and "第 1 行" in finding.location
    assert check.status != "pass" and check.failing_rows >= 1
