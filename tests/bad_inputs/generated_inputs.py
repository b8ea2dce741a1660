"""Bad inputs made at test time: binary formats (.xlsx, .docx, .pdf) and files too big to commit.

manifest.yaml names one of the functions below under ``generate:``; each returns the file's bytes.
"""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import openpyxl
from bad_inputs.make_text_inputs import DANGERS_HEADER, csv_text, danger, event, jsonl, with_bom

RESERVOIR_HEADER = ["工程编号", "工程名称", "工程类型", "规模等级", "所在镇街", "所在村社", "经度", "纬度",
                    "库容(万m³)", "管理单位", "主管部门", "安全鉴定结论", "最近检查日期"]
DUTY_HEADER = ["责任对象类型", "责任对象编号", "责任对象名称", "责任类别", "姓名", "职务", "单位", "联系电话", "年度"]
RISK_HEADER = ["风险点编号", "风险类型", "所在镇街", "所在村社", "影响户数", "影响人数", "转移安置点", "预警指标",
               "普查批次"]


def reservoir(rid: str, **overrides: object) -> list[object]:
    base: dict[str, object] = dict(zip(RESERVOIR_HEADER, [
        rid, "石门山塘", "山塘", "", "所前镇", "杏花村", 120.30, 30.05, 3.0, "所前镇人民政府", "区林水局", "二类坝",
        datetime(2024, 4, 18)], strict=True))
    base.update(overrides)
    return [base[h] for h in RESERVOIR_HEADER]


def duty(oid: str, name: str, **overrides: object) -> list[object]:
    base: dict[str, object] = dict(zip(DUTY_HEADER, [
        "工程", oid, "石门山塘", "巡查责任人", name, "巡查员", "所前镇人民政府", "13800000009", 2025], strict=True))
    base.update(overrides)
    return [base[h] for h in DUTY_HEADER]


def risk(pid: str, **overrides: object) -> list[object]:
    base: dict[str, object] = dict(zip(RISK_HEADER, [
        pid, "山洪", "河上镇", "大桥村", 12, 30, "大桥村文化礼堂", "1小时降雨50毫米", "2024"], strict=True))
    base.update(overrides)
    return [base[h] for h in RISK_HEADER]


GOOD_SHEETS: dict[str, list[list[object]]] = {
    "水库山塘": [RESERVOIR_HEADER, reservoir("BI-SK001"), reservoir("BI-SK002", 所在镇街="所前", 最近检查日期=45413)],
    "防汛责任人": [DUTY_HEADER, duty("BI-SK001", "测试甲"), duty("BI-SK002", "测试乙")],
    "风险点": [RISK_HEADER, risk("BI-FX001"), risk("BI-FX002", 所在镇街="河上")],
}


def workbook_bytes(sheets: dict[str, list[list[object]]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _with_sheet(name: str, rows: list[list[object]]) -> dict[str, list[list[object]]]:
    return {**GOOD_SHEETS, name: rows}


def water_good() -> bytes:
    return workbook_bytes(GOOD_SHEETS)


def water_sheet_renamed() -> bytes:
    sheets = dict(GOOD_SHEETS)
    return workbook_bytes({("水库山塘表" if k == "水库山塘" else k): v for k, v in sheets.items()})


def water_not_a_workbook() -> bytes:
    return "工程编号,工程名称\nBI-SK001,石门山塘\n".encode()  # a CSV saved with an .xlsx name


def water_truncated() -> bytes:
    data = water_good()
    return data[: len(data) // 2]


def water_zero_byte() -> bytes:
    return b""


def water_missing_column() -> bytes:
    rows = [[c for i, c in enumerate(r) if i != DUTY_HEADER.index("姓名")] for r in GOOD_SHEETS["防汛责任人"]]
    return workbook_bytes(_with_sheet("防汛责任人", rows))


def water_wrong_types() -> bytes:
    return workbook_bytes(_with_sheet("水库山塘", [
        *GOOD_SHEETS["水库山塘"],
        reservoir("BI-SK003", 经度="东经120度", **{"库容(万m³)": "约50"}),
        reservoir("BI-SK004", 最近检查日期="去年汛前", 工程类型="大坝"),
    ]))


def water_dates_1900_and_future() -> bytes:
    return workbook_bytes(_with_sheet("水库山塘", [
        RESERVOIR_HEADER, reservoir("BI-SK001", 最近检查日期=datetime(1900, 1, 1)),
        reservoir("BI-SK002", 最近检查日期=datetime(2099, 12, 31)),
    ]))


def water_title_row_above_header() -> bytes:
    return workbook_bytes(_with_sheet("风险点", [["萧山区风险点清单（2024年普查）"], *GOOD_SHEETS["风险点"]]))


def water_duplicated_keys() -> bytes:
    return workbook_bytes(_with_sheet("风险点", [*GOOD_SHEETS["风险点"], risk("BI-FX001", 风险类型="地质灾害")]))


def water_extra_sheet_and_columns() -> bytes:
    rows = [[*r, "备注"] if i == 0 else [*r, "多余列"] for i, r in enumerate(GOOD_SHEETS["风险点"])]
    return workbook_bytes({**_with_sheet("风险点", rows), "说明": [["本表由区林水局导出"]]})


def water_injection_names() -> bytes:
    return workbook_bytes(_with_sheet("防汛责任人", [
        DUTY_HEADER, duty("BI-SK001", "=cmd|' /C calc'!A0"),
        duty("BI-SK002", "测试'); DROP TABLE raw.water__flood_duty;--"),
    ]))


def huge_event_content() -> bytes:
    return jsonl(event("BI-E001", content="积水" * 1_000_000), event("BI-E002")).encode()  # a 6 MB field


def huge_danger_description() -> bytes:
    return with_bom(csv_text([DANGERS_HEADER, danger("BI-HD001", 描述="隐患" * 500_000), danger("BI-HD002")])).encode()


def _docx_bytes(paragraphs: list[tuple[str, str | None]]) -> bytes:
    import docx

    document = docx.Document()
    for text, style in paragraphs:
        document.add_paragraph(text, style=style)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_good() -> bytes:
    return _docx_bytes([("所前镇山塘巡查办法", "Heading 1"), ("汛期每日巡查一次，发现渗漏立即上报镇防汛办。", None)])


def docx_zip_of_junk() -> bytes:
    out = io.BytesIO()
    rnd = random.Random(7)
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("junk.bin", bytes(rnd.randrange(256) for _ in range(4096)))
        archive.writestr("readme.txt", "这不是 Word 文档")
    return out.getvalue()


def docx_truncated() -> bytes:
    data = docx_good()
    return data[: len(data) // 2]


def docx_damaged_xml() -> bytes:
    """A real .docx whose document.xml is cut off: a valid zip with broken XML inside."""
    source = zipfile.ZipFile(io.BytesIO(docx_good()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for item in source.infolist():
            data = source.read(item)
            archive.writestr(item, data[: len(data) // 2] if item.filename == "word/document.xml" else data)
    return out.getvalue()


def docx_no_text() -> bytes:
    return _docx_bytes([("   ", None)])


def pdf_bytes(page_stream: bytes) -> bytes:
    """A minimal one-page PDF, written by hand; the page shows ``page_stream``."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(page_stream) + page_stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def pdf_good() -> bytes:
    return pdf_bytes(b"BT /F1 12 Tf 72 720 Td (Flood drill checklist for Suoqian town) Tj ET")


def pdf_no_text() -> bytes:
    """A scanned page: only drawing operators, no text layer."""
    return pdf_bytes(b"0.5 g 72 72 468 648 re f")


def pdf_garbage() -> bytes:
    return b"%PDF-1.7\n" + bytes(random.Random(3).randrange(256) for _ in range(2048))


def pdf_truncated() -> bytes:
    data = pdf_good()
    return data[: len(data) // 2]


GENERATORS: dict[str, Callable[[], bytes]] = {
    name: value for name, value in globals().items()
    if callable(value) and not name.startswith("_") and getattr(value, "__module__", None) == __name__
    and name not in {"reservoir", "duty", "risk", "workbook_bytes"}
}


def write_generated(name: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(GENERATORS[name]())
