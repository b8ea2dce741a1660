"""Read .md, .txt, .docx and .pdf files into plain text plus the metadata the author attached.

Metadata comes from YAML front matter (``---`` block at the top of a text file) or a sidecar
``<file>.meta.yaml``; the sidecar wins. A file that cannot be read raises ``UnreadableDocument``
with a reason in Chinese and English; the indexer reports it and goes on with the batch.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import yaml

from hub.core.safe_files import UnsafeFile, check_zip, read_regular

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".docx", ".pdf")
SIDECAR_SUFFIX = ".meta.yaml"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_DOCX_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)


class UnreadableDocument(Exception):
    """The file cannot be turned into text; ``reason`` says why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass
class LoadedDocument:
    path: Path
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


# A folder's own README / index page describes the folder; it is not a plan or a case.
FOLDER_NOTE_STEMS = ("readme", "index")


def is_supported(path: Path) -> bool:
    if path.stem.lower() in FOLDER_NOTE_STEMS and path.suffix.lower() in (".md", ".markdown", ".txt"):
        return False
    return path.suffix.lower() in SUPPORTED_SUFFIXES and not path.name.startswith((".", "~$"))


def decode_text(raw: bytes, path: Path) -> str:
    """UTF-8 with or without BOM, else GB18030 (a superset of GBK and GB2312)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableDocument(path, "无法解码文本（既不是 UTF-8 也不是 GB18030）/ text is neither UTF-8 nor GB18030")


def split_front_matter(text: str, path: Path) -> tuple[str, dict[str, Any]]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return text, {}
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise UnreadableDocument(path, f"YAML 头信息格式错误 / malformed YAML front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise UnreadableDocument(path, "YAML 头信息不是键值对 / YAML front matter is not a mapping")
    return text[match.end() :], meta


def _read_sidecar(path: Path) -> dict[str, Any]:
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not sidecar.exists() and not sidecar.is_symlink():
        return {}
    try:
        meta = yaml.safe_load(decode_text(_read_in_folder(sidecar), sidecar)) or {}
    except yaml.YAMLError as exc:
        raise UnreadableDocument(path, f"元数据文件 {sidecar.name} 格式错误 / malformed sidecar: {exc}") from exc
    if not isinstance(meta, dict):
        raise UnreadableDocument(path, f"元数据文件 {sidecar.name} 不是键值对 / sidecar is not a mapping")
    return meta


def _read_in_folder(path: Path) -> bytes:
    """A regular file's bytes, never through a link (to /etc/passwd, /proc/self/environ, a device, or dangling)."""
    try:
        return read_regular(path, path.parent)
    except UnsafeFile as unsafe:
        raise UnreadableDocument(path, unsafe.reason) from None
    except OSError as exc:
        raise UnreadableDocument(path, f"无法读取文件 / cannot read file: {exc.strerror}") from exc


def _read_docx(path: Path, raw: bytes) -> str:
    import docx  # python-docx; imported here so text-only use stays light
    from docx.opc.exceptions import PackageNotFoundError

    try:  # a decompression bomb is refused from the zip's directory before python-docx inflates anything
        check_zip(raw, path.name)
    except UnsafeFile as unsafe:
        raise UnreadableDocument(path, unsafe.reason) from None
    try:
        document = docx.Document(BytesIO(raw))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnreadableDocument(path, f"不是有效的 Word 文档 / not a valid .docx file ({type(exc).__name__})") from exc
    except Exception as exc:  # python-docx raises lxml errors for damaged XML inside a valid zip
        raise UnreadableDocument(path, f"Word 文档已损坏 / damaged .docx file ({type(exc).__name__})") from exc
    lines: list[str] = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = _DOCX_HEADING_STYLE.match(paragraph.style.name if paragraph.style is not None else "")
        if style:
            # Heading styles become Markdown headings, which the chunker reads as the surest level signal.
            text = "#" * int(style.group(1)) + " " + text
        elif paragraph.style is not None and paragraph.style.name.lower() == "title":
            text = "# " + text
        lines.append(text)
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells]
            if any(cells):
                lines.append(" | ".join(cells))
    return "\n".join(lines)


def _read_pdf(path: Path, raw: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(BytesIO(raw))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise UnreadableDocument(path, f"PDF 无法读取 / unreadable PDF ({type(exc).__name__}: {exc})") from exc
    return "\n".join(pages)


def load_document(path: Path) -> LoadedDocument:
    """Text and metadata of one file, or ``UnreadableDocument`` naming the reason."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnreadableDocument(path, f"不支持的文件类型 {suffix} / unsupported file type")
    raw = _read_in_folder(path)  # read once; the parsers get these bytes, not the path
    if not raw.strip():
        raise UnreadableDocument(path, "空文件 / empty file")
    meta: dict[str, Any] = {}
    if suffix == ".docx":
        text = _read_docx(path, raw)
    elif suffix == ".pdf":
        text = _read_pdf(path, raw)
    else:
        text, meta = split_front_matter(decode_text(raw, path), path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        reason = "PDF 没有文本层（可能是扫描件）/ PDF has no text layer" if suffix == ".pdf" else "没有正文 / no text"
        raise UnreadableDocument(path, reason)
    meta.update(_read_sidecar(path))
    return LoadedDocument(path=path, text=text, metadata=meta)
