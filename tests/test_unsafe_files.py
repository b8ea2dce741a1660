"""No file outside a source or document folder is ever read (issue 16, items 1 and 3): links, devices, FIFOs
and dangling links in landing/<source>/ and in the document folder are refused unread with a reason in the
load log / skipped list; a decompression bomb (.xlsx with one 400 MiB cell, .docx inflating past the limit) is
refused from the zip's directory and a bounded scan, naming the file and the cell, and earlier data stays."""

from __future__ import annotations

import io
import os
import resource
import shutil
import sys
import time
import zipfile
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the bad_inputs package, as test_bad_inputs.py uses it
from bad_inputs.generated_inputs import DUTY_HEADER, GOOD_SHEETS, duty, workbook_bytes

from hub.core.safe_files import MAX_CELL_CHARS, UnsafeFile, check_zip, read_regular
from orchestration.ingest.load import ingest_landing

FIXTURES = Path(__file__).parent / "fixtures" / "ingest" / "landing"
SECRET = "HUB_TEST_SECRET_THAT_MUST_NOT_BE_READ"


def load_log(db: Path) -> dict[str, tuple[str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT source_file, status, coalesce(message, '') FROM raw.load_log").fetchall()
    return {f: (status, message) for f, status, message in rows}


def raw_text(db: Path) -> str:
    """Every raw table and the quarantine, as one text, to look for content that must not be there."""
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'").fetchall()]
        return "\n".join(str(con.execute(f'SELECT * FROM raw."{t}"').fetchall()) for t in tables)


def test_links_devices_and_fifos_in_source_folders_are_refused_unread(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES, landing)
    outside = tmp_path / "outside.csv"
    outside.write_text(f"案件编号,来源\n{SECRET},数字城管\n", encoding="utf-8")
    links = {
        "urban/城管案件_20240601.csv": "/etc/passwd",
        "urban/城管案件_20240602.csv": str(outside),
        "four_platforms/events_20240601.jsonl": "/proc/self/environ",
        "utility/outages_20240601.jsonl": "/dev/zero",
        "utility/outages_20240602.jsonl": str(tmp_path / "does-not-exist.jsonl"),
    }
    for name, target in links.items():
        os.symlink(target, landing / name)
    os.mkfifo(landing / "utility/risk_census_20240601.jsonl")  # a reader would block on it forever
    os.environ[SECRET] = "leaked-if-read"
    try:
        started = time.monotonic()
        ingest_landing(tmp_path / "hub.duckdb", landing)
        assert time.monotonic() - started < 120
    finally:
        del os.environ[SECRET]
    log = load_log(tmp_path / "hub.duckdb")
    for name in [*links, "utility/risk_census_20240601.jsonl"]:
        status, message = log[name]
        assert status == "rejected", (name, status, message)
        assert "not a regular file" in message and "不是普通文件" in message, (name, message)
    assert "dangling" in log["utility/outages_20240602.jsonl"][1]
    assert "FIFO" in log["utility/risk_census_20240601.jsonl"][1]
    text = raw_text(tmp_path / "hub.duckdb")
    assert "root:" not in text and SECRET not in text and "leaked-if-read" not in text
    assert log["urban/城管案件_20240501.csv"][0] == "loaded"  # the regular files of the same folders load


def test_a_file_swapped_for_a_link_after_listing_is_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    os.symlink("/etc/passwd", folder / "plan.md")
    with pytest.raises(UnsafeFile, match="symbolic link"):
        read_regular(folder / "plan.md", folder)
    (folder / "sub").symlink_to("/etc", target_is_directory=True)
    with pytest.raises(UnsafeFile, match="outside the folder"):
        read_regular(folder / "sub" / "hostname", folder)


def test_links_in_the_document_folder_are_skipped_with_a_reason_and_never_indexed(tmp_path: Path) -> None:
    from kb.indexer import build_index
    from kb.search import open_index
    from kb.settings import KbSettings

    docs = tmp_path / "docs"
    (docs / "plans").mkdir(parents=True)
    (docs / "plans" / "good.md").write_text("# 防汛预案\n\n汛期每日巡查水库山塘，发现险情立即上报。\n" * 3,
                                            encoding="utf-8")
    secret_file = tmp_path / "secret.md"
    secret_file.write_text(f"# 机密\n\n{SECRET}\n", encoding="utf-8")
    os.symlink("/etc/passwd", docs / "plans" / "passwd.md")
    os.symlink("/proc/self/environ", docs / "plans" / "environ.txt")
    os.symlink(secret_file, docs / "plans" / "secret.md")
    os.symlink(tmp_path / "gone.md", docs / "plans" / "gone.md")
    (docs / "linked").symlink_to(tmp_path, target_is_directory=True)  # a linked folder is not walked
    report = build_index(docs, tmp_path / "index", KbSettings(data_dir=tmp_path))
    skipped = {s.file: s.reason for s in report.skipped}
    for name in ("plans/passwd.md", "plans/environ.txt", "plans/secret.md", "plans/gone.md"):
        assert "not a regular file" in skipped[name], (name, skipped)
    assert report.documents == 1
    index = open_index(tmp_path / "index", KbSettings(data_dir=tmp_path))
    try:
        assert index.get_document("plans/passwd.md") is None and index.get_document("plans/secret.md") is None
        assert not [h for h in index.search(SECRET, top_k=5) if SECRET in str(h)]
        assert not [h for h in index.search("root bin bash", mode="bm25", top_k=5) if "root:" in str(h)]
    finally:
        index.close()
    assert SECRET not in "".join(p.read_text(errors="ignore") for p in (tmp_path / "index").rglob("*") if p.is_file()
                                 and p.suffix in (".json", ".jsonl", ".txt"))


def bomb_workbook(cell_bytes: int) -> bytes:
    """The good water workbook with one flood-duty cell of ``cell_bytes`` characters, written by streaming the
    member that holds it (the file stays a few hundred KB)."""
    sheets = dict(GOOD_SHEETS)
    sheets["防汛责任人"] = [DUTY_HEADER, duty("BI-SK001", "测试甲"), duty("BI-SK002", "BOMBPLACEHOLDER")]
    source = zipfile.ZipFile(io.BytesIO(workbook_bytes(sheets)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if b"BOMBPLACEHOLDER" in data:
                before, after = data.split(b"BOMBPLACEHOLDER")
                big = zipfile.ZipInfo(info.filename)
                big.compress_type = zipfile.ZIP_DEFLATED
                with target.open(big, "w", force_zip64=True) as member:
                    member.write(before)
                    block = b"A" * (1024 * 1024)
                    for _ in range(cell_bytes // len(block)):
                        member.write(block)
                    member.write(after)
            else:
                target.writestr(info, data)
    return out.getvalue()


def test_an_xlsx_decompression_bomb_is_refused_naming_file_and_cell_and_old_data_stays(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (landing / "water").mkdir(parents=True)
    (landing / "water" / "水利数据_20240601.xlsx").write_bytes(workbook_bytes(GOOD_SHEETS))
    db = tmp_path / "hub.duckdb"
    ingest_landing(db, landing)
    bomb = bomb_workbook(400 * 1024 * 1024)
    assert len(bomb) < 2_000_000  # a few hundred KB on disk
    (landing / "water" / "水利数据_20240602.xlsx").write_bytes(bomb)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    ingest_landing(db, landing)
    assert time.monotonic() - started < 60
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grew_mb < 200, f"ingest grew by {grew_mb:.0f} MB on a bomb"
    status, message = load_log(db)["water/水利数据_20240602.xlsx"]
    assert status == "rejected"
    assert "水利数据_20240602.xlsx" in message and "防汛责任人" in message and "E3" in message, message
    assert str(MAX_CELL_CHARS) in message and "单元格过长" in message
    with duckdb.connect(str(db), read_only=True) as con:  # the earlier workbook's rows are all still there
        names = {n for (n,) in con.execute('SELECT "姓名" FROM raw.water__flood_duty').fetchall()}
        assert names == {"测试甲", "测试乙"}
        assert (con.execute("SELECT max(length(raw_record)) FROM raw.quarantine").fetchone()[0] or 0) < 100_000


def test_a_long_cell_below_the_bomb_size_is_refused_too(tmp_path: Path) -> None:
    from orchestration.ingest.problems import FileRejected
    from orchestration.ingest.readers import xlsx_sheet_rows

    with pytest.raises(FileRejected, match="cell E3"):
        xlsx_sheet_rows(bomb_workbook(2 * 1024 * 1024), "防汛责任人", "water/x.xlsx")


def test_a_docx_that_inflates_past_the_limit_is_skipped_with_the_reason(tmp_path: Path) -> None:
    from kb.loaders import UnreadableDocument, load_document

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        body = zipfile.ZipInfo("word/document.xml")
        body.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(body, "w", force_zip64=True) as member:
            for _ in range(300):
                member.write(b" " * (1024 * 1024))
    path = tmp_path / "bomb.docx"
    path.write_bytes(out.getvalue())
    with pytest.raises(UnreadableDocument, match="decompressed size too large"):
        load_document(path)
    with pytest.raises(UnsafeFile, match=r"word/document\.xml"):
        check_zip(out.getvalue(), "bomb.docx")


def test_a_long_shared_string_is_traced_to_the_cell_that_shows_it() -> None:
    """Excel keeps text in xl/sharedStrings.xml: the bomb is found there and named by the cell that uses it."""
    from hub.core.safe_files import check_xlsx_cells

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", '<workbook xmlns:r="urn:r"><sheets>'
                         '<sheet name="防汛责任人" sheetId="1" r:id="rId1"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels", '<Relationships><Relationship Id="rId1" Type="x" '
                         'Target="worksheets/sheet1.xml"/></Relationships>')
        archive.writestr("xl/worksheets/sheet1.xml", '<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c>'
                         '</row><row r="2"><c r="B2" t="s"><v>2</v></c><c r="C2" t="s"><v>1</v></c></row>'
                         "</sheetData></worksheet>")
        shared = zipfile.ZipInfo("xl/sharedStrings.xml")
        shared.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(shared, "w", force_zip64=True) as member:
            member.write(b"<sst><si><t>a</t></si><si><t>b</t></si><si><t>")
            for _ in range(300):
                member.write(b"A" * (1024 * 1024))
            member.write(b"</t></si></sst>")
    started = time.monotonic()
    with pytest.raises(UnsafeFile, match="sheet 防汛责任人, cell B2"):
        check_xlsx_cells(out.getvalue(), "water/w.xlsx")
    assert time.monotonic() - started < 5
    with pytest.raises(UnsafeFile, match=r"300\.0 MiB"):
        check_zip(out.getvalue(), "water/w.xlsx")
