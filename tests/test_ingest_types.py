"""The validator's parsing of each contract type, on the formats docs/sources.md promises."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from orchestration.ingest.contracts import Entity, Field, FieldType
from orchestration.ingest.staging import rows_part, stage_batch
from orchestration.ingest.towns import ensure_town_aliases
from orchestration.ingest.validate import build_checked

T = FieldType


def parse(field_type: FieldType, values: list[str]) -> list[object]:
    """Typed values (None = quarantined) of one field across rows."""
    entity = Entity(source="test", name="probe", file_pattern="*", fields=(Field("v", field_type),))
    con = duckdb.connect()
    ensure_town_aliases(con)
    part = rows_part(entity, ["v"], [(i + 1, [v]) for i, v in enumerate(values)], "probe.csv", "probe.csv", None)
    staged = stage_batch(con, entity, [part])
    checked = build_checked(con, entity, staged.relation)
    rows = con.execute(f"SELECT t0, _bad FROM {checked} ORDER BY _row_number").fetchall()
    assert all((t is None) == bad for t, bad in rows)  # unparseable ⇔ quarantined
    return [t for t, _ in rows]


def test_dates() -> None:
    assert parse(T.DATE, ["45413", "2024/5/1", "2024-05-01", "20240501", "2024.5.1", "2024-05-01 00:00:00",
                          " 2024-05-01 "]) == [date(2024, 5, 1)] * 7
    assert parse(T.DATE, ["2024-13-45", "2024-02-30", "昨天", "5/1/2024"]) == [None] * 4


def test_dates_written_the_chinese_way() -> None:
    assert parse(T.DATE, ["2024年5月1日", "2024年05月01日", "2024年5月1日 08:30"]) == [date(2024, 5, 1)] * 3
    assert parse(T.DATETIME, ["2024年5月1日 9:30", "2024年5月1日 09:30:00"]) == [datetime(2024, 5, 1, 9, 30)] * 2
    assert parse(T.DATETIME, ["2024年5月1日"]) == [datetime(2024, 5, 1)]
    assert parse(T.DATE, ["2024年13月1日", "2024年2月30日", "五月一日"]) == [None] * 3


def test_datetimes_are_shanghai_wall_clock() -> None:
    local = datetime(2024, 5, 1, 9, 30)
    assert parse(T.DATETIME, ["2024-05-01T01:30:00Z", "2024-05-01T09:30:00+08:00", "2024-05-01T02:30:00+01:00",
                              "2024-05-01 09:30:00", "2024-05-01T09:30", "2024/5/1 9:30"]) == [local] * 6
    assert parse(T.DATETIME, ["2024-05-01 25:00:00", "下午三点"]) == [None, None]


def test_numbers_typed_by_hand() -> None:
    """Full-width digits and thousands separators, as hand-typed in Chinese spreadsheets; units stay wrong."""
    assert parse(T.INT, ["１２", "1,234", "-１,２３４", "12人", "1,23", "1 234"]) == [12, 1234, -1234, None, None, None]
    assert parse(T.FLOAT, ["１２.５", "1,234.5", "52.5万", "1,2345.6"]) == [12.5, 1234.5, None, None]


def test_numbers_and_bools() -> None:
    assert parse(T.INT, ["12", "-3", "12.0", "12.5", "十二"]) == [12, -3, 12, None, None]
    assert parse(T.FLOAT, ["1.5", "1e3", "abc"]) == [1.5, 1000.0, None]
    assert parse(T.BOOL, ["是", "否", "true", "FALSE", "1", "0", "也许"]) == [
        True, False, True, False, True, False, None]


def test_towns_and_codes() -> None:
    assert parse(T.TOWN, ["瓜沥镇", "瓜沥", "萧山区瓜沥镇", "330109113", "330181001", "瓜沥 镇", "火星镇"]) == [
        "瓜沥镇", "瓜沥", "萧山区瓜沥镇", "330109113", "330181001", None, None]
    assert parse(T.TOWN_CODE, ["330109113", "330181001", "瓜沥镇", "330109999", "33010911"]) == [
        "330109113", "330181001", None, None, None]
    assert parse(T.VILLAGE_CODE, ["330109113201", "33010911320", "3301091132011"]) == ["330109113201", None, None]


@pytest.mark.parametrize(("text", "expected"), [('["a", "b"]', ["a", "b"]), ("a", None), ('{"a": 1}', None)])
def test_text_lists(text: str, expected: list[str] | None) -> None:
    assert parse(T.TEXT_LIST, [text]) == [expected]


def test_non_finite_numbers_are_not_measurements() -> None:
    assert parse(T.FLOAT, ["NaN", "Infinity", "-inf", "3.5"]) == [None, None, None, 3.5]
