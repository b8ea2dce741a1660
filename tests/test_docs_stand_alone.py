"""The repository's docs and comments stand alone: no citation of design files kept outside it, no dead link.

Design notes that only exist beside the checkout (a SOURCES.md, an ARCHITECTURE file and its numbered
decisions) are not there for a reader of this repository. The source contracts and the rules of the shared
views are in docs/sources.md, the decisions in docs/decisions/. Files under tests/ may name the development
corpus beside the checkout (test inputs, skipped when absent), so they are not checked here.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Built from parts so that this file does not match itself (it is under tests/ anyway).
OUTSIDE_CITATIONS = (
    "SOURCES" + ".md",
    "shared" + "/design",
    "ARCHITECTURE" + " decision",
    "ARCHITECTURE" + ' "',
)

# [text](target), ![image](target) and [text]: target; the target up to a space, a closing parenthesis or a #anchor.
INLINE_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>#]*)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?([^\s>#]+)", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # https:, mailto:, …


def tracked_files() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"not a git checkout: {exc}")
    return [name for name in out.decode("utf-8").split("\0") if name]


def citations_outside_repo(text: str) -> list[str]:
    """Each line of ``text`` that cites a design file kept outside the repository."""
    return [line.strip() for line in text.splitlines() if any(c in line for c in OUTSIDE_CITATIONS)]


def relative_link_targets(markdown: str) -> list[str]:
    """Targets of the Markdown links that point into the repository (no URL, no bare #anchor), outside code."""
    prose = INLINE_CODE.sub("", FENCE.sub("", markdown))
    targets = INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)
    return [unquote(t) for t in targets if t and not URL.match(t) and not t.startswith("//")]


def test_no_tracked_file_outside_tests_cites_design_files_outside_the_repository() -> None:
    found: list[str] = []
    for name in tracked_files():
        if name.startswith("tests/"):
            continue
        path = ROOT / name
        if not path.is_file():
            continue  # deleted in the working tree, not yet committed
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files
        found += [f"{name}: {line}" for line in citations_outside_repo(text)]
    assert not found, (
        "cite docs/sources.md or docs/decisions/ (or say the reason inline) instead of files outside the "
        "repository:\n" + "\n".join(found)
    )


def test_relative_links_in_readme_and_docs_point_to_existing_files() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken: list[str] = []
    for page in pages:
        if not page.exists():
            continue
        for target in relative_link_targets(page.read_text(encoding="utf-8")):
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} → {target}")
    assert not broken, "relative links to files that do not exist:\n" + "\n".join(broken)


def test_the_checks_catch_what_they_are_for() -> None:
    assert citations_outside_repo("see ../shared/" + "design/SOURCES" + ".md §1\nfine line") == [
        "see ../shared/" + "design/SOURCES" + ".md §1"
    ]
    assert citations_outside_repo("(ARCHITECTURE" + " decision 1)")
    assert not citations_outside_repo("docs/decisions/0005-build-and-serve-are-separate-snapshots.md")
    markdown = (
        "[a](docs/a.md#x) [b](https://example.org) [c](#local) ![img](pic.png) `[d](in-code.md)`\n"
        "```\n[e](in-fence.md)\n```\n[f]: ref/target.md\n"
    )
    assert relative_link_targets(markdown) == ["docs/a.md", "pic.png", "ref/target.md"]
