"""Writes the text files of the bad-input corpus (run once; the outputs are committed next to it).

Each file is built from readable rows below, so a reviewer sees exactly which row is meant to
break which rule; manifest.yaml says what the hub must do with each. Binary inputs (.xlsx, .docx,
.pdf) are made at test time by binary_inputs.py.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

HERE = Path(__file__).parent
BOM = "\ufeff"


def event(event_id: str, **overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "eventId": event_id, "title": "道路积水", "content": "金城路下穿积水约20厘米，车辆无法通行。",
        "source": "网格巡查", "platform": "综合执法", "categoryL1": "城市管理", "categoryL2": "道路积水",
        "townName": "北干街道", "townCode": "330109002", "villageName": "", "gridCode": "BG-01",
        "address": "北干街道金城路", "lng": 120.27, "lat": 30.18, "reportTime": "2025-06-01 08:00:00",
        "acceptTime": "2025-06-01 08:20:00", "dispatchTime": None, "deadline": "2025-06-03T08:00:00+08:00",
        "finishTime": None, "status": "处置中", "handleDept": "区城管局", "urgency": "一般", "satisfaction": None,
        "isSupervised": False, "updatedAt": "2025-06-01T09:00:00+08:00",
        "flows": [{"seq": 1, "action": "上报", "fromDept": "网格员", "toDept": "北干街道",
                   "time": "2025-06-01 08:00:00", "opinion": ""}],
    }
    base.update(overrides)
    return base


def line(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


def write(relative: str, data: bytes | str, encoding: str = "utf-8") -> None:
    path = HERE / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))


def csv_text(rows: list[list[object]]) -> str:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def jsonl(*objects: object) -> str:
    return "\n".join(o if isinstance(o, str) else line(o) for o in objects) + "\n"


def four_platforms() -> None:
    good = [event("BI-E001"), event("BI-E002", townName="瓜沥", townCode="")]
    write("four_platforms/good_companion.jsonl", jsonl(event("BI-G001"), event("BI-G002", townName="萧山区瓜沥镇")))
    write("four_platforms/truncated_last_line.jsonl", jsonl(*good, line(event("BI-E003"))[:150]).rstrip("\n"))
    write("four_platforms/zero_byte.jsonl", b"")
    write("four_platforms/gbk_encoded.jsonl", jsonl(*good), encoding="gbk")
    write("four_platforms/bom_mid_file.jsonl", jsonl(good[0]) + BOM + jsonl(good[1]))
    write("four_platforms/wrong_types.jsonl", jsonl(
        *good,
        event("BI-E003", lng="东经120度", reportTime="昨天上午", isSupervised="maybe"),
        event("BI-E004", reportTime="2025-02-30 10:00:00"),
    ))
    missing = [{k: v for k, v in event(f"BI-E00{i}").items() if k != "status"} for i in (1, 2)]
    write("four_platforms/missing_required_key.jsonl", jsonl(*missing))
    write("four_platforms/required_value_empty.jsonl", jsonl(*good, event("BI-E003", title="  "),
                                                             event("BI-E004", updatedAt=None)))
    write("four_platforms/extra_keys.jsonl", jsonl(event("BI-E001", internalScore=3, 备注="多余字段"), good[1]))
    write("four_platforms/duplicated_keys.jsonl", jsonl(*good, event("BI-E001", title="重复推送")))
    write("four_platforms/future_and_1900_dates.jsonl", jsonl(
        event("BI-E001", reportTime="2099-12-31 23:59:59", deadline="2100-01-01T00:00:00+08:00"),
        event("BI-E002", reportTime="1900-01-01 00:00:00"),
    ))
    write("four_platforms/injection_strings.jsonl", jsonl(
        event("BI-E001", title="'; DROP TABLE raw.load_log; --", content="<script>alert('xss')</script>"),
        event("BI-E002", title='Robert"); DELETE FROM raw.quarantine; --', address="{{7*7}} ${jndi:ldap://x}"),
        event("BI-E003", townName="瓜沥镇' OR '1'='1"),
    ))
    write("four_platforms/not_objects.jsonl", jsonl(good[0], "[1, 2, 3]", '"只是一个字符串"', "null", good[1]))
    write("four_platforms/flows_not_json.jsonl", jsonl(*good, event("BI-E003", flows="见附件")))
    write("four_platforms/unknown_status.jsonl", jsonl(*good, event("BI-E003", status="已完成", urgency="很急")))
    write("four_platforms/crlf_line_endings.jsonl", jsonl(*good).replace("\n", "\r\n"))
    write("four_platforms/nul_and_control_chars.jsonl",
          jsonl(event("BI-E001", content="前\u0000后\u0007响铃"), good[1]))
    write("four_platforms/deeply_nested.jsonl", jsonl(*good) + '{"eventId": "BI-E003", "flows": '
          + "[" * 100_000 + "]" * 100_000 + "}\n")
    write("four_platforms/town_code_mismatch.jsonl", jsonl(*good, event("BI-E003", townCode="33010911"),
                                                           event("BI-E004", townCode="999999999")))


URBAN_POINTS_HEADER = ["积水点编号", "名称", "镇街", "位置描述", "经度", "纬度", "成因", "整治状态",
                       "历史最大积水深度(cm)", "责任单位", "最近积水时间"]


def point(pid: str, **overrides: str) -> list[str]:
    base = {"积水点编号": pid, "名称": "金城路下穿", "镇街": "北干街道", "位置描述": "金城路与市心路交叉口",
            "经度": "120.27", "纬度": "30.18", "成因": "地势低洼", "整治状态": "未整治",
            "历史最大积水深度(cm)": "45", "责任单位": "区城管局", "最近积水时间": "2025-06-01 08:00:00"}
    base.update(overrides)
    return [base[h] for h in URBAN_POINTS_HEADER]


def urban() -> None:
    good = [point("BI-JS001"), point("BI-JS002", 镇街="瓜沥", 整治状态="已整治")]
    gbk = "gbk"
    write("urban/good_companion.csv", csv_text([URBAN_POINTS_HEADER, point("BI-JSG01")]), gbk)
    write("urban/utf8_not_gbk.csv", csv_text([URBAN_POINTS_HEADER, *good]))
    broken = csv_text([URBAN_POINTS_HEADER, *good]).encode(gbk)
    cut = broken.index(b"BI-JS002") + 12
    write("urban/invalid_gbk_bytes.csv", broken[:cut] + b"\xff\xfe\xff" + broken[cut:])
    write("urban/utf8_bom_on_gbk.csv", b"\xef\xbb\xbf" + csv_text([URBAN_POINTS_HEADER, *good]).encode(gbk))
    write("urban/too_many_cells.csv", csv_text([URBAN_POINTS_HEADER, *good, [*point("BI-JS003"), "多出", "两格"]]), gbk)
    write("urban/too_few_cells.csv", csv_text([URBAN_POINTS_HEADER, *good, ["BI-JS003", "半行"]]), gbk)
    write("urban/unterminated_quote.csv",
          csv_text([URBAN_POINTS_HEADER, *good]) + 'BI-JS003,"未闭合的引号,北干街道,,,,,未整治,,,\r\n', gbk)
    write("urban/semicolon_delimited.csv",
          "\r\n".join(";".join(r) for r in [URBAN_POINTS_HEADER, *good]) + "\r\n", gbk)
    write("urban/zero_byte.csv", b"")
    write("urban/header_only.csv", csv_text([URBAN_POINTS_HEADER]), gbk)
    write("urban/formula_injection.csv", csv_text([URBAN_POINTS_HEADER, point("BI-JS001", 名称='=HYPERLINK("http://x")'),
                                                   point("BI-JS002", 责任单位="@SUM(1+1)*cmd|' /C calc'!A0")]), gbk)
    write("urban/wrong_types.csv", csv_text([URBAN_POINTS_HEADER, *good,
                                             point("BI-JS003", 经度="东经120", 历史最大积水深度="深"),
                                             point("BI-JS004", 最近积水时间="上周五")]), gbk)
    write("urban/missing_required_column.csv",
          csv_text([[h for h in URBAN_POINTS_HEADER if h != "整治状态"], *[r[:7] + r[8:] for r in good]]), gbk)
    write("urban/duplicated_header.csv", csv_text([[*URBAN_POINTS_HEADER, "名称"], [*good[0], "另一个名称"]]), gbk)


def asset(aid: str, **overrides: object) -> dict[str, object]:
    base: dict[str, object] = {"asset_id": aid, "asset_type": "单村水站", "name": "大同坞村水站", "town": "楼塔镇",
                               "villages": ["大同坞村"], "population_served": 900, "design_capacity_m3d": 300.0,
                               "operator": "区环境集团"}
    base.update(overrides)
    return base


def utility() -> None:
    good = [asset("BI-SA001"), asset("BI-SA002", town="楼塔", name="楼英村水站")]
    write("utility/good_companion.jsonl", jsonl(asset("BI-SAG01")))
    write("utility/list_as_text.jsonl", jsonl(*good, asset("BI-SA003", villages="新港村,航民村")))
    write("utility/nan_and_infinity.jsonl",
          jsonl(*good) + line(asset("BI-SA003")).replace('"design_capacity_m3d": 300.0', '"design_capacity_m3d": NaN')
          + "\n" + line(asset("BI-SA004")).replace("900", "1e999") + "\n")
    write("utility/fractional_integer.jsonl", jsonl(*good, asset("BI-SA003", population_served=12.5),
                                                    asset("BI-SA004", population_served="九百")))
    write("utility/camel_case_keys.jsonl", jsonl(*[{("assetId" if k == "asset_id" else k): v for k, v in a.items()}
                                                   for a in good]))
    write("utility/utf16_encoded.jsonl", jsonl(*good).encode("utf-16"))
    write("utility/unknown_town.jsonl", jsonl(*good, asset("BI-SA003", town="火星镇"), asset("BI-SA004", town="")))
    write("utility/wrong_enum.jsonl", jsonl(*good, asset("BI-SA003", asset_type="水塔")))
    write("utility/duplicated_keys.jsonl", jsonl(*good, asset("BI-SA001", name="同号不同名")))


def with_bom(text: str) -> str:
    return BOM + text


TOWNS_HEADER = ["区划代码", "名称", "类型", "领导小组成立日期", "应急管理站挂牌", "联络员工号"]
GOOD_TOWNS = [["330109113", "瓜沥镇", "镇", "2021-03-15", "是", "LL001"],
              ["330109001", "城厢街道", "街道", "2020/5/1", "是", "LL002"]]
WORKERS_HEADER = ["工号", "姓名", "角色", "村社代码", "网格编号", "手机", "上岗日期", "状态", "年度培训次数"]
GOOD_WORKERS = [["BI-GW001", "测试甲", "网格员", "330109113201", "WG-01", "13800000001", "2022-01-05", "在岗", "4"],
                ["BI-GW002", "测试乙", "联络员", "330109113202", "WG-02", "13800000002", "2023-03-01", "在岗", "2"]]
DANGERS_HEADER = ["隐患编号", "发现日期", "镇街代码", "村社代码", "隐患等级", "类别", "描述", "整改责任单位",
                  "督办单位", "整改期限", "状态", "销号日期"]


def danger(did: str, **overrides: str) -> list[str]:
    base = dict(zip(DANGERS_HEADER, [did, "2025-01-10", "330109113", "330109113201", "一般", "城市内涝", "雨水井淤堵",
                                     "区城管局", "", "2025-07-31", "待整改", ""], strict=True))
    base.update(overrides)
    return [base[h] for h in DANGERS_HEADER]


def registry() -> None:
    write("registry/towns_good.csv", with_bom(csv_text([TOWNS_HEADER, *GOOD_TOWNS])))
    write("registry/workers_good.csv", with_bom(csv_text([WORKERS_HEADER, *GOOD_WORKERS])))
    write("registry/towns_zero_byte.csv", b"")
    write("registry/towns_no_bom.csv", csv_text([TOWNS_HEADER, *GOOD_TOWNS]))
    write("registry/towns_double_bom.csv", with_bom(with_bom(csv_text([TOWNS_HEADER, *GOOD_TOWNS]))))
    write("registry/towns_bad_codes.csv", with_bom(csv_text([
        TOWNS_HEADER, *GOOD_TOWNS, ["33010911", "短代码镇", "镇", "", "否", ""],
        ["330199999", "不存在镇", "镇", "", "否", ""],
    ])))
    write("registry/towns_truncated.csv", with_bom(csv_text([TOWNS_HEADER, *GOOD_TOWNS]))[:-30])
    write("registry/workers_duplicated_ids.csv", with_bom(csv_text([
        WORKERS_HEADER, *GOOD_WORKERS,
        ["BI-GW001", "测试丙", "网格员", "330109113203", "WG-03", "13800000003", "2024-01-01", "在岗", "1"],
    ])))
    write("registry/workers_injection_names.csv", with_bom(csv_text([
        WORKERS_HEADER, ["BI-GW001", "Robert'); DROP TABLE raw.registry__towns;--", "网格员", "330109113201", "WG-01",
                         "13800000001", "2022-01-05", "在岗", "4"],
        ["BI-GW002", "<img src=x onerror=alert(1)>", "网格员", "330109113202", "WG-02", "13800000002", "2022-01-05",
         "在岗", "4"],
    ])))
    write("registry/workers_wrong_types.csv", with_bom(csv_text([
        WORKERS_HEADER, *GOOD_WORKERS,
        ["BI-GW003", "测试丁", "网格员", "33010911320", "WG-03", "138-0000", "去年", "在岗", "四次"],
    ])))
    write("registry/workers_extra_and_reordered_columns.csv", with_bom(csv_text([
        [*reversed(WORKERS_HEADER), "身份证号"], *[[*reversed(r), "330100199001011234"] for r in GOOD_WORKERS],
    ])))
    write("registry/workers_padded_header.csv", with_bom(csv_text([
        [f" {h}\u3000" for h in WORKERS_HEADER], *[[f" {c} " for c in r] for r in GOOD_WORKERS],
    ])))
    write("registry/dangers_dates.csv", with_bom(csv_text([
        DANGERS_HEADER, danger("BI-HD001"), danger("BI-HD002", 发现日期="1900-01-01", 整改期限="2099-12-31"),
        danger("BI-HD003", 发现日期="2025-02-30"), danger("BI-HD004", 整改期限="45000"),
    ])))
    write("registry/dangers_quoted_newlines.csv", with_bom(csv_text([
        DANGERS_HEADER, danger("BI-HD001", 描述="第一行\r\n第二行,带逗号\n第三行\"带引号\""), danger("BI-HD002"),
    ])))
    write("registry/dangers_missing_required_column.csv", with_bom(csv_text([
        [h for h in DANGERS_HEADER if h != "状态"], [c for i, c in enumerate(danger("BI-HD001")) if i != 10],
    ])))
    write("registry/towns_gbk_encoded.csv", csv_text([TOWNS_HEADER, *GOOD_TOWNS]), encoding="gbk")


def documents() -> None:
    plan = "# 所前镇山塘防汛巡查办法\n\n## 一、巡查频次\n\n汛期每日巡查一次，台风、暴雨期间加密巡查。\n"
    write("documents/good_plan.md", plan)
    write("documents/zero_byte.md", b"")
    write("documents/only_whitespace.txt", "  \r\n\t\r\n\u3000")
    write("documents/malformed_front_matter.md", "---\ntitle: [未闭合\ndoc_type: 预案\n---\n" + plan)
    write("documents/front_matter_not_mapping.md", "---\n- 预案\n- 台风\n---\n" + plan)
    write("documents/front_matter_only.md", "---\ntitle: 只有头信息\n---\n")
    write("documents/bom_before_front_matter.md", BOM + "---\ntitle: 所前镇山塘防汛巡查办法\n---\n" + plan)
    write("documents/gbk_text.txt", "萧山区城市内涝应急预案\n一、总则\n积水点巡查由区城管局负责。\n",
          encoding="gb18030")
    write("documents/utf16_text.txt", "萧山区防汛防台应急预案\n第一条 总则\n".encode("utf-16"))
    write("documents/binary_noise.txt", bytes(range(256)) * 8)
    write("documents/injection_text.md",
          "# <script>alert(1)</script> 预案\n\n'; DROP TABLE chunks; -- 网格员负责通知转移。\n")
    write("documents/crlf_sidecar.txt", "2023年7月2日，戴村镇山塘渗漏，转移112人。\r\n")
    write("documents/crlf_sidecar.txt.meta.yaml", "title: [坏的元数据\n")


if __name__ == "__main__":
    four_platforms()
    urban()
    utility()
    registry()
    documents()
