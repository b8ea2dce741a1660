"""Reading input files safely: only regular files inside their folder, and zip containers (.xlsx, .docx)
whose decompressed size is bounded, checked before anything is extracted.

Used by ingest (the source folders under landing/) and by the knowledge base (the document folder):
- ``refusal(path, folder)`` says why an entry must not be read: a symbolic link (to ``/etc/passwd`` or
  ``/proc/self/environ``, or dangling), a device, a FIFO, a socket, or a path that leaves the folder;
- ``read_regular(path, folder)`` reads a file with ``O_NOFOLLOW`` and checks with ``fstat`` that what was
  opened is a regular file (a link swapped in after the listing is refused too);
- ``check_zip(data, where)`` refuses a container whose members would inflate past a total or per-member
  limit or at a ratio only a bomb has (a 414 KB workbook held one 400 MiB cell), reading only the zip's
  central directory; for workbooks, ``check_xlsx_cells`` then names the first cell longer than Excel allows,
  streaming each sheet in bounded chunks.

Every refusal is an ``UnsafeFile`` whose message is bilingual and names the file (and member or cell).
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from io import BytesIO
from pathlib import Path
from xml.etree import ElementTree

NOT_REGULAR = "不是普通文件，未读取 / not a regular file, not read"
ZIP_TOO_LARGE = "压缩包解压后过大（疑似压缩炸弹），未读取 / decompressed size too large (a zip bomb?), not read"
CELL_TOO_LARGE = "单元格过长，未读取 / a cell is too long, not read"

MAX_UNZIPPED_BYTES = 256 * 1024 * 1024  # all members of one .xlsx / .docx together
MAX_MEMBER_BYTES = 128 * 1024 * 1024  # one member (a sheet, the shared strings, the document body)
MAX_RATIO = 200  # XML compresses 5-20x; a member over 1 MiB inflating more than this is a bomb
MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell: no workbook saved by Excel has a longer one
_CHUNK = 1024 * 1024


class UnsafeFile(Exception):
    """A file that must not be read (or not be read further), with the reason in Chinese and English."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "符号链接 / symbolic link"
    if stat.S_ISDIR(mode):
        return "目录 / directory"
    if stat.S_ISFIFO(mode):
        return "命名管道 / FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "设备文件 / device"
    if stat.S_ISSOCK(mode):
        return "套接字 / socket"
    return "特殊文件 / special file"


def refusal(path: Path, folder: Path) -> str | None:
    """Why ``path`` must not be read as a file of ``folder`` (None: it is a regular file inside it)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError as exc:
        return f"{NOT_REGULAR}: {path.name} ({exc.strerror})"
    if not stat.S_ISREG(mode):
        kind = _kind(mode)
        if stat.S_ISLNK(mode) and not path.exists():
            kind = "符号链接，目标不存在 / dangling symbolic link"
        return f"{NOT_REGULAR}: {path.name} ({kind})"
    real, root = os.path.realpath(path), os.path.realpath(folder)
    if os.path.commonpath([real, root]) != root:  # a linked directory on the way
        return f"{NOT_REGULAR}: {path.name} (在目录之外 / outside the folder)"
    return None


def read_regular(path: Path, folder: Path) -> bytes:
    """The bytes of ``path``, a regular file inside ``folder``; ``UnsafeFile`` for anything else."""
    reason = refusal(path, folder)
    if reason:
        raise UnsafeFile(reason)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:  # ELOOP: it became a link after the listing
        raise UnsafeFile(f"{NOT_REGULAR}: {path.name} ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise UnsafeFile(f"{NOT_REGULAR}: {path.name} ({_kind(os.fstat(fh.fileno()).st_mode)})")
        return fh.read()


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def check_zip(data: bytes, where: str, max_total: int = MAX_UNZIPPED_BYTES,
              max_member: int = MAX_MEMBER_BYTES) -> None:
    """Refuse a zip container that would inflate too far, from its central directory alone (nothing is
    extracted). Not a zip at all is left to the format's reader, which says so in its own words."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > max_member or (member.file_size > _CHUNK and ratio > MAX_RATIO):
            raise UnsafeFile(
                f"{ZIP_TOO_LARGE}: {where} 中的 {member.filename} 解压后 {_mib(member.file_size)}"
                f"（压缩 {_mib(member.compress_size)}，上限 {_mib(max_member)}、{MAX_RATIO} 倍）"
                f" / member {member.filename} of {where} inflates to {_mib(member.file_size)} from"
                f" {_mib(member.compress_size)} (limits {_mib(max_member)}, ratio {MAX_RATIO})"
            )
    if total > max_total:
        raise UnsafeFile(
            f"{ZIP_TOO_LARGE}: {where} 解压后共 {_mib(total)}（上限 {_mib(max_total)}）"
            f" / {where} inflates to {_mib(total)} in all (limit {_mib(max_total)})"
        )


_CELL_REF = re.compile(rb'<c\b[^>]*?\br="([A-Z]+[0-9]+)"')
_SHARED_REF = re.compile(rb'<c\b[^>]*?\br="([A-Z]+[0-9]+)"[^>]*?\bt="s"[^>]*>\s*<v>(\d+)</v>')


def _long_text(archive: zipfile.ZipFile, name: str, limit_bytes: int) -> tuple[int, bytes] | None:
    """Stream one XML member in bounded chunks (at most ``MAX_MEMBER_BYTES`` of it); the byte offset and the
    preceding 4 KiB of the first text run longer than ``limit_bytes`` (text between '>' and '<'), or None."""
    run, tail, offset = 0, b"", 0
    with archive.open(name) as member:
        while offset < MAX_MEMBER_BYTES and (chunk := member.read(_CHUNK)):
            start = 0
            while start < len(chunk):
                lt = chunk.find(b"<", start)
                if lt < 0:
                    run += len(chunk) - start
                    break
                run += lt - start
                if run > limit_bytes:
                    return offset + lt, (tail + chunk[:start])[-4096:]
                gt = chunk.find(b">", lt)
                run, start = 0, (gt + 1 if gt >= 0 else len(chunk))
            if run > limit_bytes:
                return offset + len(chunk), (tail + chunk[: max(0, len(chunk) - run)])[-4096:]
            tail, offset = (tail + chunk)[-4096:], offset + len(chunk)
    return None


def _sheet_names(archive: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet member → sheet name, from workbook.xml and its relationships (small members)."""
    names: dict[str, str] = {}
    try:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return names
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    for sheet in book.iter():
        if sheet.tag == "sheet" or sheet.tag.endswith("}sheet"):
            rid = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), None)
            target = targets.get(rid, "")
            member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            names[member] = sheet.get("name", member)
    return names


def check_xlsx_cells(data: bytes, where: str, max_chars: int = MAX_CELL_CHARS) -> None:
    """Refuse a workbook with a cell longer than ``max_chars`` characters, naming the sheet and cell. Each
    sheet and the shared strings are streamed in 1 MiB chunks, so the check itself stays small."""
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return
    limit_bytes = max_chars * 4  # UTF-8: at most 4 bytes a character; escaped text is longer, never shorter
    with archive:
        sheets = _sheet_names(archive)
        members = set(archive.namelist())
        try:
            shared = _long_text(archive, "xl/sharedStrings.xml", limit_bytes) if "xl/sharedStrings.xml" in members \
                else None
            if shared is not None:
                index = _shared_index(archive, shared[0])
                for member, sheet in sheets.items():
                    if member in members and (cell := _cell_using(archive, member, index)):
                        raise UnsafeFile(_cell_reason(where, sheet, cell, max_chars))
                raise UnsafeFile(_cell_reason(where, "sharedStrings", f"#{index}", max_chars))
            for member, sheet in sheets.items():
                if member in members and (found := _long_text(archive, member, limit_bytes)):
                    refs = _CELL_REF.findall(found[1])
                    raise UnsafeFile(_cell_reason(where, sheet, refs[-1].decode() if refs else "?", max_chars))
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError):
            return  # a damaged workbook: openpyxl says so


_SI = re.compile(rb"<si[\s>]")


def _shared_index(archive: zipfile.ZipFile, offset: int) -> int:
    """How many <si> entries start before ``offset`` in the shared strings, minus one: the long string's index."""
    count, seen, tail = 0, 0, b""
    with archive.open("xl/sharedStrings.xml") as member:
        while seen < offset and (chunk := member.read(_CHUNK)):
            part = chunk[: offset - seen]
            window = tail + part
            count += sum(1 for m in _SI.finditer(window) if m.end() > len(tail))
            tail, seen = window[-4:], seen + len(chunk)
    return max(count - 1, 0)


def _cell_using(archive: zipfile.ZipFile, member: str, index: int) -> str | None:
    """The first cell of a sheet that shows shared string ``index``."""
    tail = b""
    with archive.open(member) as sheet:
        while chunk := sheet.read(_CHUNK):
            for ref, value in _SHARED_REF.findall(tail + chunk):
                if int(value) == index:
                    return ref.decode()
            tail = chunk[-512:]
    return None


def _cell_reason(where: str, sheet: str, cell: str, max_chars: int) -> str:
    return (
        f"{CELL_TOO_LARGE}: {where} 工作表 {sheet} 单元格 {cell} 超过 {max_chars} 个字符"
        f" / {where}, sheet {sheet}, cell {cell} is longer than {max_chars} characters"
    )
