"""Each reader on real hand-made files (tests/fixtures/ingest/landing): bad input ends in the
quarantine with a clear reason, and the good rows of the same file still load."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from orchestration.ingest.load import ingest_landing, ingest_source
from orchestration.ingest.schema import ensure_raw_schema
from orchestration.ingest.staging import TITLE_ROWS_SCANNED

FIXTURES = Path(__file__).parent / "fixtures" / "ingest" / "landing"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    root = tmp_path_factory.mktemp("ingest")
    shutil.copytree(FIXTURES, root / "landing")
    summaries = ingest_landing(root / "hub.duckdb", root / "landing")
    assert [s.source for s in summaries] == ["four_platforms", "water", "urban", "utility", "registry"]
    con = duckdb.connect(str(root / "hub.duckdb"), read_only=True)
    yield con
    con.close()


def ids(con: duckdb.DuckDBPyConnection, table: str, column: str) -> set[str]:
    return {r[0] for r in con.execute(f'SELECT "{column}" FROM raw."{table}"').fetchall()}


def quarantined(con: duckdb.DuckDBPyConnection, entity: str) -> list[tuple]:
    return con.execute(
        "SELECT row_number, field, value, reason FROM raw.quarantine WHERE entity = ? ORDER BY row_number, field",
        [entity],
    ).fetchall()


def test_gbk_csv_is_transcoded_not_read_as_utf8(loaded: duckdb.DuckDBPyConnection) -> None:
    raw_bytes = (FIXTURES / "urban" / "积水点_20240501.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw_bytes.decode("utf-8")  # the same bytes as UTF-8 are garbage
    assert "市心路下穿".encode("gbk") in raw_bytes
    rows = loaded.execute(
        'SELECT "积水点编号", "名称", "镇街", "位置描述", "最近积水时间" FROM raw."urban__waterlogging_points" '
        "ORDER BY 1"
    ).fetchall()
    assert rows[0] == ("JS001", "市心路下穿", "北干街道", "市心路与金城路交叉口下穿通道", datetime(2024, 6, 15, 8, 30))
    assert [r[0] for r in rows] == ["JS001", "JS002"]


def test_csv_extra_column_is_ignored_and_noted_once(loaded: duckdb.DuckDBPyConnection) -> None:
    message = loaded.execute(
        "SELECT message FROM raw.load_log WHERE entity = 'waterlogging_points' AND status = 'loaded'"
    ).fetchone()[0]
    assert "备注" in message and "extra columns ignored" in message
    columns = [r[0] for r in loaded.execute("DESCRIBE raw.urban__waterlogging_points").fetchall()]
    assert "备注" not in columns


def test_value_outside_closed_list_is_quarantined(loaded: duckdb.DuckDBPyConnection) -> None:
    assert quarantined(loaded, "waterlogging_points") == [
        (3, "整治状态", "没整治", '取值不在允许范围 / value not in the allowed list: "没整治"')
    ]


def test_duplicated_id_keeps_the_first(loaded: duckdb.DuckDBPyConnection) -> None:
    rows = loaded.execute('SELECT "案件编号", "处置结果", _row_number FROM raw.urban__cases ORDER BY 1').fetchall()
    assert rows == [("CG001", "已清理", 1), ("CG002", None, 2)]
    (problem,) = quarantined(loaded, "cases")
    assert problem[0] == 3 and problem[1] == "案件编号"
    assert problem[3].startswith("编号重复 / duplicated id: \"CG001\"") and "first at row 1" in problem[3]


def test_truncated_json_line_is_quarantined_with_its_line_number(loaded: duckdb.DuckDBPyConnection) -> None:
    problems = quarantined(loaded, "events")
    truncated = [p for p in problems if p[0] == 4]
    assert truncated == [(4, None, None, "JSON 行无法解析（可能被截断） / invalid or truncated JSON line")]
    raw_record = loaded.execute("SELECT raw_record FROM raw.quarantine WHERE row_number = 4 AND entity = 'events'")
    assert raw_record.fetchone()[0].startswith('{"eventId": "E20240501004"')
    assert ids(loaded, "four_platforms__events", "eventId") == {"E20240501001", "E20240501002", "E20240501003"}


def test_bad_datetime_unknown_town_and_duplicate_event(loaded: duckdb.DuckDBPyConnection) -> None:
    by_row = {p[0]: p for p in quarantined(loaded, "events")}
    assert by_row[5] == (5, "reportTime", "2024-13-45 10:00:00",
                         '时间格式无法识别 / unparseable datetime: "2024-13-45 10:00:00"')
    assert by_row[6] == (6, "townName", "火星镇", '未知镇街 / unknown town: "火星镇"')
    assert by_row[7][1] == "eventId + updatedAt" and by_row[7][3].startswith("编号重复 / duplicated id")
    assert len(by_row) == 4


def test_datetimes_become_shanghai_local_time(loaded: duckdb.DuckDBPyConnection) -> None:
    rows = dict(loaded.execute(
        'SELECT "eventId", struct_pack(r := "reportTime", a := "acceptTime", s := "isSupervised", '
        'c := "townCode", n := "townName") FROM raw.four_platforms__events'
    ).fetchall())
    # 2024-05-01T01:30:00Z is 09:30 in Shanghai; "2024-05-01 09:45:00" is already local.
    assert rows["E20240501002"]["r"] == datetime(2024, 5, 1, 9, 30)
    assert rows["E20240501001"]["r"] == datetime(2024, 5, 1, 9, 30)
    assert rows["E20240501001"]["a"] == datetime(2024, 5, 1, 9, 45)
    assert rows["E20240501003"]["s"] is True and rows["E20240501001"]["s"] is False
    # Names and codes are kept as given (old code, prefixed name); dbt maps them through the seed.
    assert rows["E20240501003"]["c"] == "330181001" and rows["E20240501003"]["n"] == "萧山区城厢街道"
    assert rows["E20240501002"]["c"] is None


def test_lineage_columns(loaded: duckdb.DuckDBPyConnection) -> None:
    rows = loaded.execute(
        "SELECT DISTINCT _source_system, _source_file, length(_row_hash), _load_id IS NOT NULL, "
        "_loaded_at IS NOT NULL FROM raw.four_platforms__events"
    ).fetchall()
    assert rows == [("four_platforms", "four_platforms/events_20240501.jsonl", 32, True, True)]


def test_xlsx_dates_and_rejected_sheets(loaded: duckdb.DuckDBPyConnection) -> None:
    rows = dict(loaded.execute('SELECT "工程编号", "最近检查日期" FROM raw.water__reservoirs').fetchall())
    # A real Excel date, an Excel serial number (45413) and a text date all read as dates.
    assert rows == {"SK001": date(2024, 4, 18), "ST002": date(2024, 5, 1), "ST003": date(2024, 5, 1)}
    assert quarantined(loaded, "reservoirs") == [(4, "最近检查日期", "2024-13-45",
                                                  '日期格式无法识别 / unparseable date: "2024-13-45"')]
    (missing_column,) = quarantined(loaded, "flood_duty")
    assert missing_column[1] == "姓名"
    assert '缺少必填列 / missing required column: "姓名"' in missing_column[3]
    assert "水利数据_20240501.xlsx" in missing_column[3] and "防汛责任人" in missing_column[3]
    (missing_sheet,) = quarantined(loaded, "risk_points")
    assert '缺少工作表 / missing sheet: "风险点"' in missing_sheet[3]
    statuses = dict(loaded.execute("SELECT entity, status FROM raw.load_log WHERE source_system = 'water'").fetchall())
    assert statuses == {"reservoirs": "loaded", "flood_duty": "rejected", "risk_points": "rejected"}


def test_utility_lists_and_registry_codes(loaded: duckdb.DuckDBPyConnection) -> None:
    towns = loaded.execute('SELECT towns, notice_channels FROM raw.utility__outages').fetchall()
    assert towns == [(["北干街道", "新塘街道"], ["短信", "公众号"])]
    assert quarantined(loaded, "supply_assets") == [
        (2, "villages", "楼英村", '列表格式无法识别 / not a JSON list: "楼英村"')
    ]
    assert ids(loaded, "registry__villages", "区划代码") == {"330109113201"}  # file without BOM still read
    plans = quarantined(loaded, "plans")
    assert {(p[0], p[1]) for p in plans} == {(3, "发布日期"), (3, "镇街代码")}  # one row per problem
    revised = loaded.execute('SELECT "最近修订日期" FROM raw.registry__plans ORDER BY 1').fetchall()
    assert revised == [(date(2024, 1, 15),), (date(2024, 5, 1),)]


def test_undecodable_gbk_file_is_rejected_with_byte_offset(tmp_path: Path) -> None:
    folder = tmp_path / "urban"
    folder.mkdir()
    good = "案件编号,上报时间\r\nCG9,2024-05-01 08:00:00\r\n".encode("gbk")
    (folder / "城管案件_20240601.csv").write_bytes(good + b"\xff\xff,\r\n")
    with duckdb.connect(str(tmp_path / "hub.duckdb")) as con:
        ensure_raw_schema(con)
        summary = ingest_source(con, "urban", tmp_path)
        (result,) = summary.files
        assert result.status == "rejected"
        assert "城管案件_20240601.csv" in result.message and f"byte offset {len(good)}" in result.message
        assert con.execute("SELECT count(*) FROM raw.urban__cases").fetchone()[0] == 0


def test_cli_prints_a_summary(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hub.cli.main import cli

    outcome = CliRunner().invoke(cli, ["ingest", "--landing", str(FIXTURES), "--data-dir", str(tmp_path),
                                       "--source", "urban"])
    assert outcome.exit_code == 0, outcome.output
    assert "【urban】入库 4 行 / rows loaded, 隔离 2 行 / rows quarantined" in outcome.output
    assert "编号重复 / duplicated id" in outcome.output
    missing = CliRunner().invoke(cli, ["ingest", "--landing", str(tmp_path / "nope"), "--data-dir", str(tmp_path)])
    assert missing.exit_code != 0 and "landing folder not found" in missing.output


def test_operator_doc_names_every_entity_and_field() -> None:
    from orchestration.ingest.contracts import ENTITIES

    doc = (Path(__file__).parent.parent / "docs" / "sources.md").read_text(encoding="utf-8")
    for entity in ENTITIES:
        assert f"raw.{entity.table}" in doc, entity.table
        for f in entity.fields:
            assert f"| `{f.name}`" in doc, (entity.table, f.name)


def test_edge_files(tmp_path: Path) -> None:
    """Empty files and files without a required key are rejected by name; a header-only register
    loads zero rows; a CSV row with more cells than the header is quarantined, not cut."""
    (tmp_path / "utility").mkdir()
    (tmp_path / "utility" / "outages_20240601.jsonl").write_bytes(b"")
    (tmp_path / "utility" / "outages_20240602.jsonl").write_text('[1, 2]\n{"outage_id": "T1"}\n', encoding="utf-8")
    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "towns.csv").write_text("区划代码,名称\r\n", encoding="utf-8-sig")
    (tmp_path / "registry" / "villages.csv").write_text(
        "区划代码,名称,所属镇街代码\r\n330109113201,航民村,330109113,多出来的\r\n330109113202,东恩村,330109113\r\n",
        encoding="utf-8-sig")
    with duckdb.connect(str(tmp_path / "hub.duckdb")) as con:
        utility = {f.source_file: f for f in ingest_source(con, "utility", tmp_path).files}
        assert utility["utility/outages_20240601.jsonl"].status == "rejected"
        assert "空文件 / empty file" in utility["utility/outages_20240601.jsonl"].message
        second = utility["utility/outages_20240602.jsonl"]
        assert second.status == "rejected" and '"kind"、"start_at"' in second.message
        registry = {f.source_file: f for f in ingest_source(con, "registry", tmp_path).files}
        assert registry["registry/towns.csv"].status == "loaded" and registry["registry/towns.csv"].rows_read == 0
        assert registry["registry/villages.csv"].rows_loaded == 1
        reason = con.execute("SELECT reason FROM raw.quarantine WHERE entity = 'villages'").fetchall()
        assert reason == [('列数与表头不一致 / number of cells differs from the header: "4 vs 3"',)]


def test_title_rows_and_header_spelling_variants(tmp_path: Path) -> None:
    """Spreadsheet exports as offices make them: a title and an export date above the header, full-width
    brackets, a superscript written as a digit, stray spaces in headers and in a tab name. The rows load
    under the contract's names and the skipped rows are noted; a sheet whose header is nowhere near the top
    is still rejected by name."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "水库山塘 "  # a stray space in the tab name
    sheet.append(["萧山区水库山塘基本情况表"])
    sheet.append(["导出日期：2024年5月1日"])
    sheet.append(["工程编号", "工程名称 ", "工程类型", "规模等级", "所在镇街", "所在村社", "经度", "纬度",
                  "库容（万m3）", "管理单位", "主管部门", "安全鉴定结论", "最近检查日期"])
    sheet.append(["SK101", "湘湖水库", "水库", "小(1)型", "城厢街道", "湘湖村", 120.22, 30.13, 52.5, "城厢街道办事处",
                  "区林水局", "一类", datetime(2024, 4, 18)])
    late = workbook.create_sheet("防汛责任人")
    for _ in range(TITLE_ROWS_SCANNED + 1):
        late.append(["说明"])
    late.append(["责任对象类型", "责任对象编号", "责任对象名称", "责任类别", "姓名", "职务", "单位", "联系电话",
                 "年度"])
    (tmp_path / "water").mkdir()
    workbook.save(tmp_path / "water" / "水利数据_20240501.xlsx")
    (tmp_path / "urban").mkdir()
    (tmp_path / "urban" / "城管案件_20240501.csv").write_bytes(
        ("城管案件导出\r\n案件编号 ,来源,大类,小类,镇街,上报时间,派遣单位,处置时限,结案时间,处置结果\r\n"
         "AJ9,12345,市容环境,暴露垃圾,瓜沥镇,2024-05-01 08:00:00,瓜沥镇城管中队,2024-05-02 08:00:00,,\r\n")
        .encode("gbk"))
    with duckdb.connect(str(tmp_path / "hub.duckdb")) as con:
        water = {f.entity: f for f in ingest_source(con, "water", tmp_path).files}
        assert water["reservoirs"].status == "loaded" and water["reservoirs"].rows_loaded == 1
        assert "2 row(s) above the header skipped" in water["reservoirs"].message
        row = con.execute(
            'SELECT "工程名称", "库容(万m³)", "最近检查日期", _row_number FROM raw.water__reservoirs').fetchone()
        assert row == ("湘湖水库", 52.5, date(2024, 4, 18), 3)  # sheet row 4: counted below the first row, as always
        assert water["flood_duty"].status == "rejected" and "missing required column" in water["flood_duty"].message
        urban = {f.entity: f for f in ingest_source(con, "urban", tmp_path).files}
        assert urban["cases"].status == "loaded" and urban["cases"].rows_loaded == 1
        assert con.execute('SELECT "案件编号", "镇街" FROM raw.urban__cases').fetchall() == [("AJ9", "瓜沥镇")]


def test_a_json_array_file_is_read_item_by_item(tmp_path: Path) -> None:
    """An export saved as one (pretty-printed) JSON array instead of JSON Lines loads with a note; its row
    numbers count items. A JSON Lines file whose first line happens to be an array is still read by line."""
    good = Path(__file__).parent / "bad_inputs" / "four_platforms" / "crlf_line_endings.jsonl"
    events = [json.loads(line) for line in good.read_text(encoding="utf-8").splitlines() if line.strip()]
    (tmp_path / "four_platforms").mkdir()
    (tmp_path / "four_platforms" / "events_20250601.jsonl").write_text(
        json.dumps(events, ensure_ascii=False, indent=2), encoding="utf-8")
    (tmp_path / "four_platforms" / "events_20250602.jsonl").write_text(
        "[1, 2]\n" + json.dumps(events[0], ensure_ascii=False) + "\n", encoding="utf-8")
    with duckdb.connect(str(tmp_path / "hub.duckdb")) as con:
        files = {f.source_file: f for f in ingest_source(con, "four_platforms", tmp_path).files}
        array = files["four_platforms/events_20250601.jsonl"]
        assert array.status == "loaded" and array.rows_loaded == len(events) == 2
        assert "is one JSON array, not JSON Lines" in array.message
        rows = con.execute('SELECT "eventId", _row_number FROM raw.four_platforms__events '
                           "WHERE _source_file LIKE '%20250601%' ORDER BY 2").fetchall()
        assert rows == [(e["eventId"], i) for i, e in enumerate(events, start=1)]
        lines = files["four_platforms/events_20250602.jsonl"]
        assert lines.rows_quarantined == 1 and "JSON array" not in (lines.message or "")


def test_a_register_in_gbk_loads_and_one_in_big5_is_rejected(tmp_path: Path) -> None:
    """GBK is what a Chinese Excel writes for CSV; any other encoding that GB18030 happens to decode gives a
    header that is not the contract's, so the file is rejected and nothing of it is loaded."""
    good = (Path(__file__).parent / "bad_inputs" / "registry" / "towns_good.csv").read_text(encoding="utf-8-sig")
    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "towns.csv").write_bytes(good.encode("gbk"))
    (tmp_path / "registry" / "villages.csv").write_bytes(
        "區劃代碼,名稱,所屬鎮街代碼,類型\r\n330109113201,航民村,330109113,村\r\n".encode("big5"))
    with duckdb.connect(str(tmp_path / "hub.duckdb")) as con:
        files = {f.entity: f for f in ingest_source(con, "registry", tmp_path).files}
        assert files["towns"].status == "loaded" and "is GBK, not UTF-8" in files["towns"].message
        names = con.execute('SELECT "名称" FROM raw.registry__towns ORDER BY 1').fetchall()
        assert names == [("城厢街道",), ("瓜沥镇",)]
        assert files["villages"].status == "rejected"
        assert "missing required column" in files["villages"].message or "not valid UTF-8" in files["villages"].message
