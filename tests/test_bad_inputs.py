"""The bad-input corpus (tests/bad_inputs/manifest.yaml): each malformed input ends exactly as the
manifest says (file rejected with its reason, rows quarantined with theirs, or loaded), and every
good row next to it is loaded. Real files, the real ingest, a fresh DuckDB file per case."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from bad_inputs.generated_inputs import GENERATORS

from kb.loaders import UnreadableDocument, load_document
from orchestration.ingest.contracts import SOURCES_BY_NAME, Entity
from orchestration.ingest.load import ingest_source

CORPUS = Path(__file__).parent / "bad_inputs"
MANIFEST: dict[str, Any] = yaml.safe_load((CORPUS / "manifest.yaml").read_text(encoding="utf-8"))
INGEST_CASES = MANIFEST["ingest"]
DOCUMENT_CASES = MANIFEST["documents"]


def test_corpus_is_big_enough_and_covers_every_source() -> None:
    assert len(INGEST_CASES) + len(DOCUMENT_CASES) >= 40
    assert {c["source"] for c in INGEST_CASES} == set(SOURCES_BY_NAME)
    ids = [c["id"] for c in [*INGEST_CASES, *DOCUMENT_CASES]]
    assert len(ids) == len(set(ids))
    suffixes = {Path(c.get("name") or c.get("from", "")).suffix for c in DOCUMENT_CASES}
    assert {".md", ".txt", ".docx", ".pdf"} <= suffixes


def input_bytes(spec: dict[str, str]) -> bytes:
    if "generate" in spec:
        return GENERATORS[spec["generate"]]()
    return (CORPUS / spec["from"]).read_bytes()


def place(files: list[dict[str, str]], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for spec in files:
        (folder / spec["to"]).write_bytes(input_bytes(spec))


def key_column(entity: Entity) -> str:
    return entity.key[0] if entity.key else entity.fields[0].name


def stored(con: duckdb.DuckDBPyConnection, entity: Entity, key: str, field: str) -> Any:
    rows = con.execute(
        f'SELECT "{field}" FROM raw."{entity.table}" WHERE "{key_column(entity)}" = ?', [key]
    ).fetchall()
    assert len(rows) == 1, f"{entity.name} {key}: expected one stored row, found {len(rows)}"
    return rows[0][0]


@pytest.mark.parametrize("case", INGEST_CASES, ids=[c["id"] for c in INGEST_CASES])
def test_ingest_outcome(case: dict[str, Any], tmp_path: Path) -> None:
    source = SOURCES_BY_NAME[case["source"]]
    entities = {e.name: e for e in source.entities}
    expect = case["expect"]
    landing = tmp_path / "landing"
    con = duckdb.connect(str(tmp_path / "hub.duckdb"))
    try:
        earlier_loads: set[str] = set()
        if case.get("before"):
            place(case["before"], landing / source.name)
            ingest_source(con, source.name, landing)
            earlier_loads = {r[0] for r in con.execute("SELECT load_id FROM raw.load_log").fetchall()}
        place(case["files"], landing / source.name)
        ingest_source(con, source.name, landing)  # must not raise, whatever the input

        def this_run(rows: list[tuple]) -> list[tuple]:
            return [r for r in rows if r[-1] not in earlier_loads]

        # Status of every (file, entity) of this run: rejected with its reason, or loaded.
        log = this_run(con.execute(
            "SELECT source_file, entity, status, coalesce(message, ''), load_id FROM raw.load_log"
        ).fetchall())
        case_files = {f"{source.name}/{spec['to']}" for spec in case["files"]}
        assert {r[0] for r in log} == case_files
        rejected = {(f"{source.name}/{k.split('#')[0]}", k.partition("#")[2]): v
                    for k, v in (expect.get("rejected") or {}).items()}
        for file, entity, status, message, _ in log:
            reason = rejected.get((file, entity)) or rejected.get((file, ""))
            if reason is not None:
                assert status == "rejected", f"{file} [{entity}] should be rejected ({reason}), got {status}"
                assert reason in message, f"{file} [{entity}]: {message!r} does not say {reason!r}"
            else:
                assert status == "loaded", f"{file} [{entity}] should load, got {status}: {message}"
        for key, note in (expect.get("notes") or {}).items():
            file, _, entity = key.partition("#")
            messages = [m for f, e, _, m, _ in log if f == f"{source.name}/{file}" and entity in ("", e)]
            assert any(note in m for m in messages), f"{key}: no note {note!r} in {messages}"

        # Exactly the expected rows in quarantine, each with its reason; file-level rows for rejections.
        quarantine = this_run(con.execute(
            "SELECT source_file, row_number, field, reason, load_id FROM raw.quarantine"
        ).fetchall())
        row_level = [(f, n, fld, reason) for f, n, fld, reason, _ in quarantine if n is not None]
        file_level = [(f, reason) for f, n, _, reason, _ in quarantine if n is None]
        expected_rows = expect.get("quarantined") or []
        assert Counter((f, n, fld) for f, n, fld, _ in row_level) == Counter(
            (f"{source.name}/{f}", n, fld) for f, n, fld, _ in expected_rows
        ), f"quarantined rows differ: {row_level}"
        for file, number, field, reason in expected_rows:
            found = [r for f, n, fld, r in row_level if (f, n, fld) == (f"{source.name}/{file}", number, field)]
            assert any(reason in r for r in found), f"row {number} {field}: {found} does not say {reason!r}"
        assert len(file_level) == len(rejected)

        # Every good row is loaded, and nothing else.
        for entity_name, keys in (expect.get("loaded") or {}).items():
            entity = entities[entity_name]
            got = [r[0] for r in con.execute(f'SELECT "{key_column(entity)}" FROM raw."{entity.table}"').fetchall()]
            assert sorted(got) == sorted(keys), f"{entity_name}: loaded {sorted(got)}"
        for entity_name in set(entities) - set(expect.get("loaded") or {}):
            count = con.execute(f'SELECT count(*) FROM raw."{entities[entity_name].table}"').fetchone()[0]
            assert count == 0, f"{entity_name}: {count} unexpected rows"
        for entity_name, key, field, value in expect.get("values") or []:
            assert str(stored(con, entities[entity_name], key, field)) == value
        for entity_name, key, field, length in expect.get("lengths") or []:
            assert len(stored(con, entities[entity_name], key, field)) == length
    finally:
        con.close()


def document_path(case: dict[str, Any], folder: Path) -> Path:
    name = case.get("name") or Path(case["from"]).name
    target = folder / name
    target.write_bytes(input_bytes(case))
    if "from" in case:
        sidecar = CORPUS / (case["from"] + ".meta.yaml")
        if sidecar.exists():
            shutil.copyfile(sidecar, folder / (name + ".meta.yaml"))
    return target


@pytest.mark.parametrize("case", DOCUMENT_CASES, ids=[c["id"] for c in DOCUMENT_CASES])
def test_document_outcome(case: dict[str, Any], tmp_path: Path) -> None:
    path = document_path(case, tmp_path)
    expect = case["expect"]
    if "unreadable" in expect:
        with pytest.raises(UnreadableDocument) as caught:
            load_document(path)
        assert expect["unreadable"] in caught.value.reason
        assert "Traceback" not in caught.value.reason
    else:
        loaded = load_document(path)
        assert expect["loaded"] in loaded.text
        for key, value in (expect.get("metadata") or {}).items():
            assert loaded.metadata[key] == value


def test_index_build_skips_each_bad_document_and_indexes_the_good_ones(tmp_path: Path) -> None:
    """The whole corpus in one folder: one index build, each unreadable file reported with its reason,
    every readable one indexed and findable."""
    from kb.indexer import build_index
    from kb.search import open_index
    from kb.settings import KbSettings

    docs = tmp_path / "docs"
    docs.mkdir()
    paths = {case["id"]: document_path(case, docs) for case in DOCUMENT_CASES}
    report = build_index(docs, tmp_path / "index", KbSettings(data_dir=tmp_path))
    skipped = {s.file: s.reason for s in report.skipped}
    unreadable = {paths[c["id"]].name: c["expect"]["unreadable"] for c in DOCUMENT_CASES if "unreadable" in c["expect"]}
    assert sorted(Path(f).name for f in skipped) == sorted(unreadable)
    for file, reason in skipped.items():
        assert unreadable[Path(file).name] in reason
    assert report.documents == len(DOCUMENT_CASES) - len(unreadable)
    index = open_index(tmp_path / "index", KbSettings(data_dir=tmp_path))
    try:
        hits = index.search("汛期每日巡查", top_k=5)
        assert hits, "the good plan is not findable"
    finally:
        index.close()
