"""Validate the labelled retrieval-evaluation query set (bench/kb_queries.jsonl).

The format checks always run. The checks against the real documents run when the shared
development corpus (../shared/corpus next to the repository) is present and are skipped otherwise,
because the corpus must never be copied into the repository.
"""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
QUERY_FILE = REPO_ROOT / "bench" / "kb_queries.jsonl"
CORPUS_DIR = REPO_ROOT.parent / "shared" / "corpus"

KINDS = {"keyword", "question", "paraphrase"}
MIN_QUERIES = 100
MIN_ANSWER_CHARS, MAX_ANSWER_CHARS = 6, 40
# Chunkers split at these marks, so an answer that crossed one could be cut in two.
SENTENCE_ENDS = "。！？；"

needs_corpus = pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason=f"shared corpus not found at {CORPUS_DIR}")


def load_queries() -> list[dict]:
    queries = []
    for line_no, line in enumerate(QUERY_FILE.read_text(encoding="utf-8").splitlines(), start=1):
        assert line.strip(), f"{QUERY_FILE.name} line {line_no}: empty line"
        try:
            queries.append(json.loads(line))
        except json.JSONDecodeError as exc:
            pytest.fail(f"{QUERY_FILE.name} line {line_no}: invalid JSON ({exc})")
    return queries


def corpus_documents() -> list[str]:
    """Paths (relative to the corpus dir) of every document listed in the two manifests."""
    documents = []
    for manifest, prefix in ((CORPUS_DIR / "manifest.json", ""), (CORPUS_DIR / "cases" / "manifest.json", "cases/")):
        documents += [prefix + entry["file"] for entry in json.loads(manifest.read_text(encoding="utf-8"))]
    return documents


def test_records_have_the_expected_shape():
    queries = load_queries()
    assert len(queries) >= MIN_QUERIES, f"only {len(queries)} queries, need at least {MIN_QUERIES}"
    for q in queries:
        assert set(q) == {"id", "query", "kind", "relevant"}, f"{q.get('id')}: unexpected keys {sorted(q)}"
        assert re.fullmatch(r"q\d{3}", q["id"]), f"{q['id']}: id must look like q001"
        assert q["query"].strip(), f"{q['id']}: empty query"
        assert q["kind"] in KINDS, f"{q['id']}: kind {q['kind']!r} not in {sorted(KINDS)}"
        assert q["relevant"], f"{q['id']}: no relevant passages"
        for rel in q["relevant"]:
            assert set(rel) == {"file", "answer"}, f"{q['id']}: unexpected relevant keys {sorted(rel)}"
            answer = rel["answer"]
            assert MIN_ANSWER_CHARS <= len(answer) <= MAX_ANSWER_CHARS, f"{q['id']}: answer length {len(answer)}"
            assert "\n" not in answer, f"{q['id']}: answer spans a line break"
            assert not any(mark in answer for mark in SENTENCE_ENDS), f"{q['id']}: answer crosses a sentence end"
            assert not rel["file"].startswith("/") and ".." not in rel["file"], f"{q['id']}: file must be relative"


def test_ids_and_queries_are_unique():
    queries = load_queries()
    for field in ("id", "query"):
        repeated = [value for value, n in Counter(q[field] for q in queries).items() if n > 1]
        assert not repeated, f"repeated {field}: {repeated}"


def test_kinds_are_mixed():
    counts = Counter(q["kind"] for q in load_queries())
    total = sum(counts.values())
    for kind in KINDS:
        assert counts[kind] >= total / 4, f"kind {kind} has {counts[kind]} of {total} queries, expected about a third"


@needs_corpus
def test_every_answer_occurs_in_its_file():
    texts: dict[str, str] = {}
    missing = []
    for q in load_queries():
        for rel in q["relevant"]:
            path = CORPUS_DIR / rel["file"]
            if not path.is_file():
                missing.append(f"{q['id']}: file {rel['file']} not in corpus")
                continue
            text = texts.setdefault(rel["file"], path.read_text(encoding="utf-8"))
            if rel["answer"] not in text:
                missing.append(f"{q['id']}: answer {rel['answer']!r} not found in {rel['file']}")
    assert not missing, "\n".join(missing)


@needs_corpus
def test_every_corpus_document_is_covered():
    per_file = Counter(rel["file"] for q in load_queries() for rel in {r["file"]: r for r in q["relevant"]}.values())
    too_few = {doc: per_file[doc] for doc in corpus_documents() if per_file[doc] < 3}
    assert not too_few, f"documents with fewer than 3 queries: {too_few}"
