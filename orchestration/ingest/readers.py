"""Format readers shared by the source modules: bytes → text, text → lines or rows of cells.

DuckDB's extensions for Excel and non-UTF-8 encodings cannot be installed here, so .xlsx is
read with openpyxl and GBK is transcoded in Python; JSON is parsed inside DuckDB (staging.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime, time

import pyarrow as pa
import pyarrow.compute as pc

from hub.core.safe_files import UnsafeFile, check_xlsx_cells, check_zip
from orchestration.ingest import problems
from orchestration.ingest.problems import FileRejected

UTF8_BOM = b"\xef\xbb\xbf"


def decode_utf8(data: bytes, where: str) -> str:
    """UTF-8, with or without a BOM; undecodable bytes reject the file, naming the byte offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRejected(
            f"{problems.NOT_UTF8}: {where}, byte offset {exc.start}"
        ) from None


def decode_gbk(data: bytes, where: str) -> tuple[str, list[str]]:
    """GBK text (decoded as GB18030, its superset); returns the text and notes.

    Valid UTF-8 with non-ASCII characters is practically never GBK, so such a file is read as
    UTF-8 (with a note) rather than turned into mojibake.
    """
    if data.startswith(UTF8_BOM) or not data.isascii():
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
        else:
            return text, [f"文件为 UTF-8 编码而非 GBK，已按 UTF-8 读取 / {where} is UTF-8, not GBK; read as UTF-8"]
    notes = []
    if data.startswith(UTF8_BOM):  # some tools put a UTF-8 BOM in front of GBK text; it is not part of the data
        data = data[len(UTF8_BOM):]
        notes.append(f"GBK 文件开头有 UTF-8 BOM，已忽略 / UTF-8 BOM before GBK text ignored in {where}")
    try:
        return data.decode("gb18030"), notes
    except UnicodeDecodeError as exc:
        offset = exc.start + (len(UTF8_BOM) if notes else 0)
        raise FileRejected(f"{problems.NOT_GBK}: {where}, byte offset {offset}") from None


def utf8_lines(data: bytes, where: str) -> pa.Array:
    """Lines of a UTF-8 JSON Lines file as an Arrow string array (element i is line i + 1).

    Validated and split by Arrow in C++, not line by line in Python: this is the hot path of the
    four-platforms exports. Invalid UTF-8 falls back to Python's decoder to name the byte offset.
    """
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    try:
        text = pa.array([data], pa.large_binary()).cast(pa.large_string())
    except pa.ArrowInvalid:
        decode_utf8(data, where)  # raises FileRejected with the offset
        raise
    lines = pc.split_pattern(text, "\n").flatten()
    return pc.utf8_rtrim(lines, "\r") if b"\r" in data else lines  # CRLF files


def json_array_items(data: bytes) -> list[str] | None:
    """The objects of a file holding one JSON array of objects (an export saved as JSON, not JSON Lines), each
    as a JSON text; None for anything else, which is then read line by line as the contract says."""
    text = data[len(UTF8_BOM):] if data.startswith(UTF8_BOM) else data
    if not re.match(rb"\s*\[", text):  # no copy of a large file just to look at its first byte
        return None
    try:
        items = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
        return None
    return [json.dumps(item, ensure_ascii=False) for item in items]


def json_records(data: bytes, where: str) -> tuple[pa.Array | list[str], list[str]]:
    """The records of a JSON Lines file (one per line), or of a file that is one JSON array instead; notes."""
    items = json_array_items(data)
    if items is not None:
        return items, [f"文件是 JSON 数组而非 JSON Lines，已按数组逐项读取，行号为第几项 / {where} is one JSON array, "
                       "not JSON Lines: read item by item, row numbers count items"]
    return utf8_lines(data, where), []


# The csv module refuses fields over 128 KiB by default and raises mid-file; long descriptions are real data.
MAX_CSV_FIELD_CHARS = 64 * 1024 * 1024
csv.field_size_limit(MAX_CSV_FIELD_CHARS)


def csv_rows(text: str, where: str = "") -> tuple[list[str], Iterator[tuple[int, list[str | None]]]]:
    """Header and (data row number, cells) of a CSV text; blank lines are skipped but counted.

    A text the csv module cannot split (e.g. a field over MAX_CSV_FIELD_CHARS) rejects the file."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise FileRejected(f"{problems.BAD_CSV}: {where} header ({exc})") from None

    def rows() -> Iterator[tuple[int, list[str | None]]]:
        number = 0
        try:
            for number, cells in enumerate(reader, start=1):
                if any(c.strip() for c in cells):
                    yield number, list(cells)
        except csv.Error as exc:
            raise FileRejected(f"{problems.BAD_CSV}: {where} row {number + 1} ({exc})") from None

    return header, rows()


def cell_text(value: object) -> str | None:
    """An Excel cell as text the validator parses: dates ISO, whole floats without '.0'."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def name_key(name: str) -> str:
    """A sheet or column name as compared with the contract's: full-width and half-width forms alike (（）, ３,
    m³ as m3), without spaces, ASCII case ignored."""
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


def xlsx_sheet_rows(data: bytes, sheet: str, where: str) -> tuple[list[str], list[tuple[int, list[str | None]]]]:
    """Header and (data row number, cells) of one sheet; a missing sheet rejects it."""
    import openpyxl  # lazily: only the water source needs it

    try:  # a decompression bomb is refused from the zip's directory and a bounded scan, before openpyxl inflates it
        check_xlsx_cells(data, where)
        check_zip(data, where)
    except UnsafeFile as unsafe:
        raise FileRejected(unsafe.reason) from None
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a damaged file
        raise FileRejected(f"{problems.BAD_WORKBOOK}: {where} ({exc})") from None
    try:
        # A stray space or a full-width character in a tab name is not another sheet.
        found = next((name for name in workbook.sheetnames if name_key(name) == name_key(sheet)), None)
        if found is None:
            raise FileRejected(
                f'{problems.MISSING_SHEET}: "{sheet}" in {where} (sheets: {"、".join(workbook.sheetnames)})'
            )
        rows_iter = workbook[found].iter_rows(values_only=True)
        header = [cell_text(v) or "" for v in next(rows_iter, ())]
        rows = []
        for number, values in enumerate(rows_iter, start=1):
            cells = [cell_text(v) for v in values]
            if any(c is not None and c.strip() for c in cells):
                rows.append((number, cells))
        return header, rows
    finally:
        workbook.close()
