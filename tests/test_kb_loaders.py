"""Loading .md/.txt/.docx/.pdf files, their metadata, and the files that cannot be read."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest
from bad_inputs.generated_inputs import pdf_bytes
from pypdf import PdfWriter

from kb.loaders import UnreadableDocument, load_document

PLAN_MD = """---
title: 瓜沥镇防汛防台应急预案
doc_type: 预案
issuer: 瓜沥镇人民政府
date: 2023-05-10
hazards: [台风, 洪涝]
---
# 瓜沥镇防汛防台应急预案

## 1 总则

台风来临前，网格员负责通知转移。
"""


def _text_pdf(path: Path, text: str) -> None:
    """A minimal one-page PDF with a text layer (Helvetica, ASCII)."""
    path.write_bytes(pdf_bytes(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()))


def test_markdown_front_matter_is_metadata_not_text(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    path.write_text(PLAN_MD, encoding="utf-8")
    loaded = load_document(path)
    assert loaded.metadata["title"] == "瓜沥镇防汛防台应急预案"
    assert loaded.metadata["hazards"] == ["台风", "洪涝"]
    assert loaded.text.startswith("# 瓜沥镇防汛防台应急预案")
    assert "doc_type" not in loaded.text


def test_utf8_with_bom_and_gb18030_text(tmp_path: Path) -> None:
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeff第一条 为了做好防汛工作，制定本办法。".encode())
    assert load_document(bom).text.startswith("第一条")
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("萧山区城市内涝应急预案\n一、总则\n积水点巡查。".encode("gb18030"))
    assert "萧山区城市内涝应急预案" in load_document(gbk).text


def test_sidecar_metadata(tmp_path: Path) -> None:
    path = tmp_path / "case.txt"
    path.write_text("2023年7月2日，戴村镇山塘渗漏，转移112人。", encoding="utf-8")
    (tmp_path / "case.txt.meta.yaml").write_text("title: 山塘渗漏案例\ndoc_type: 案例\n", encoding="utf-8")
    loaded = load_document(path)
    assert loaded.metadata == {"title": "山塘渗漏案例", "doc_type": "案例"}


def test_docx_heading_styles_become_headings(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("萧山区森林火灾应急预案", level=1)
    document.add_heading("1 总则", level=2)
    document.add_paragraph("为有效预防和扑救森林火灾，制定本预案。")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "响应级别"
    table.rows[0].cells[1].text = "Ⅳ级"
    path = tmp_path / "forest.docx"
    document.save(str(path))
    text = load_document(path).text
    assert text.splitlines()[:3] == ["# 萧山区森林火灾应急预案", "## 1 总则", "为有效预防和扑救森林火灾，制定本预案。"]
    assert "响应级别 | Ⅳ级" in text


def test_text_pdf(tmp_path: Path) -> None:
    path = tmp_path / "notice.pdf"
    _text_pdf(path, "Xiaoshan flood plan section 1")
    assert "Xiaoshan flood plan" in load_document(path).text


@pytest.mark.parametrize("kind", ["junk_zip_docx", "not_zip_docx", "empty", "blank_pdf", "undecodable", "bad_yaml"])
def test_unreadable_files_are_reported_with_a_reason(tmp_path: Path, kind: str) -> None:
    if kind == "junk_zip_docx":
        path = tmp_path / "junk.docx"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("hello.txt", "not a word document")
        expected = "docx"
    elif kind == "not_zip_docx":
        path = tmp_path / "plain.docx"
        path.write_bytes(b"this is not a zip at all")
        expected = "docx"
    elif kind == "empty":
        path = tmp_path / "empty.md"
        path.write_bytes(b"")
        expected = "empty file"
    elif kind == "blank_pdf":
        path = tmp_path / "scan.pdf"
        writer = PdfWriter()
        writer.add_blank_page(width=595, height=842)
        with path.open("wb") as handle:
            writer.write(handle)
        expected = "no text layer"
    elif kind == "undecodable":
        path = tmp_path / "binary.txt"
        path.write_bytes(b"\xff\xfe\xff\x80\x80\xff" * 10)
        expected = "GB18030"
    else:
        path = tmp_path / "bad.md"
        path.write_text("---\ntitle: [unclosed\n---\n正文", encoding="utf-8")
        expected = "YAML"
    with pytest.raises(UnreadableDocument) as caught:
        load_document(path)
    assert caught.value.path == path
    assert expected in caught.value.reason
