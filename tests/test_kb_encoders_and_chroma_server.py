"""Encoders (issue 15): an index records the encoder its vectors came from and queries from another are refused;
the ONNX exports are made once into the data directory. Chroma as a server: a real ``chroma run`` on a loopback
port, the indexer writing a collection per version, ``hub serve --workers 2`` reading it while versions switch,
and a server restart survived."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from api_fixtures import HUB, SAMPLE_DOCS, LiveServer, add_key, hub_env, start_server, stop_server

from hub.cli.chroma_server import ChromaServer, start_chroma_server, stop_chroma_server
from hub.core.pointer import read_current
from kb.embedding import load_model
from kb.indexer import build_index
from kb.search import KnowledgeBase, ModelMismatch
from kb.settings import KbSettings

DOCS = (
    "plans/district_城市供水突发事件专项应急预案.md",
    "cases/20230315_新塘街道_供水管道爆裂大面积停水案例.md",
    "cases/20240614_所前镇_山体崩塌道路中断案例.md",
)
LATER = "cases/20240522_钱江世纪城_施工挖断供水主管停水案例.md"


def copy_docs(target: Path, names: tuple[str, ...]) -> Path:
    for relative in names:
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((SAMPLE_DOCS / relative).read_bytes())
    return target


def test_an_index_refuses_queries_from_another_backend(tmp_path: Path) -> None:
    docs = copy_docs(tmp_path / "docs", DOCS[:1])
    torch = KbSettings(data_dir=tmp_path, backend="torch")
    report = build_index(docs, tmp_path / "index", torch)
    manifest = json.loads((Path(report.version) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["encoder"] == {"model": "m3e-small", "backend": "torch", "quantization": None}
    assert KnowledgeBase(tmp_path / "index", torch).search("供水 爆管", top_k=3)
    with pytest.raises(ModelMismatch, match="HUB_KB_BACKEND"):
        KnowledgeBase(tmp_path / "index", KbSettings(data_dir=tmp_path, backend="onnx-int8"))
    with pytest.raises(ModelMismatch, match="onnx"):
        KnowledgeBase(tmp_path / "index", KbSettings(data_dir=tmp_path, backend="onnx"))
    # the CLI says so too, in Chinese and English, and exits non-zero
    done = subprocess.run(
        [*HUB, "kb", "search", "--index", str(tmp_path / "index"), "供水"],
        env=hub_env(tmp_path, HUB_KB_BACKEND="onnx-int8"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0 and "HUB_KB_BACKEND" in done.stderr + done.stdout


# The background warm-up meets the same mismatch: it must log it, not die with an unhandled exception.
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_the_api_answers_503_naming_the_encoders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from litestar.testing import TestClient

    from api.app import create_app
    from api.settings import ApiSettings

    docs = copy_docs(tmp_path / "docs", DOCS[:1])
    build_index(docs, tmp_path / "kb" / "index", KbSettings(data_dir=tmp_path, backend="torch"))
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HUB_KB_BACKEND", "onnx-int8")
    key = add_key(tmp_path, "mismatch-staff", "staff")
    with TestClient(create_app(ApiSettings.from_env(str(tmp_path)))) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        response = client.get("/api/search", params={"q": "供水"})
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "index_encoder_mismatch"
    assert "torch" in body["message_en"] and "onnx-int8" in body["message_en"]
    assert "HUB_KB_BACKEND" in body["message_zh"]


def test_the_onnx_export_leaves_the_process_logging_as_it_was(tmp_path: Path) -> None:
    """ONNX Runtime's quantizer logs through ``logging.info``, which gave the root logger a stderr handler: after
    the first run's export every library's records reached the console of `make run` ("DEBUG:bm25s:…",
    "INFO:dagster.builtin:…"). Run in a process of its own, since pytest's log capture holds root handlers."""
    script = "\n".join((
        "import logging, sys",
        "from pathlib import Path",
        "from kb.embedding import ensure_onnx_export",
        "from kb.settings import KbSettings",
        f"settings = KbSettings(data_dir=Path({str(tmp_path)!r}), backend='onnx-int8')",
        "ensure_onnx_export(Path(settings.model_path), settings.onnx_dir, 'onnx-int8')",
        "library = logging.getLogger('bm25s')",
        "library.setLevel(logging.DEBUG)",
        "library.debug('a library record after the export')",
        "print('root handlers:', len(logging.root.handlers))",
    ))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert any(tmp_path.rglob("*.onnx")), "nothing was exported"
    assert "root handlers: 0" in proc.stdout
    assert "a library record" not in proc.stderr


def test_int8_index_records_its_quantisation_and_exports_once(tmp_path: Path) -> None:
    import onnx

    from kb.embedding import ensure_onnx_export, onnx_file_name
    from kb.settings import quantization_config

    settings = KbSettings(data_dir=tmp_path, backend="onnx-int8")
    # the export is asked for directly: in a full test run this process may already hold the int8 model, loaded
    # from another folder, and build_index would then not export here
    folder, file_name = ensure_onnx_export(Path(settings.model_path), settings.onnx_dir, "onnx-int8")
    assert folder == settings.onnx_dir and file_name == onnx_file_name("onnx-int8")
    exported = sorted(p.name for p in (settings.onnx_dir / "onnx").iterdir())
    assert "model.onnx" in exported and Path(file_name).name in exported
    # only the weight products of layers 0-2 are int8 (6 each); the embeddings, the attention's products of two
    # activations (2 per layer) and the last of m3e-small's 4 layers stay fp32
    graph = onnx.load(str(settings.onnx_dir / file_name), load_external_data=False).graph
    kinds = [n.op_type for n in graph.node]
    assert kinds.count("MatMulInteger") == 18 and kinds.count("MatMul") == 8 + 6
    assert not any(n.op_type == "DequantizeLinear" and "embeddings" in n.name for n in graph.node)
    stamp = (settings.onnx_dir / "onnx" / "model.onnx").stat().st_mtime_ns

    docs = copy_docs(tmp_path / "docs", DOCS[:1])
    report = build_index(docs, tmp_path / "index", settings)
    manifest_path = Path(report.version) / "manifest.json"
    encoder = json.loads(manifest_path.read_text(encoding="utf-8"))["encoder"]
    scheme = quantization_config()
    assert encoder["backend"] == "onnx-int8"
    assert encoder["quantization"] == f"qint8-dynamic-{scheme.name}" and "per-channel-weight-matmul" in scheme.name
    hits = KnowledgeBase(tmp_path / "index", settings).search("供水管道爆裂", top_k=3)
    assert hits and hits[0].doc_id == DOCS[0]
    assert ensure_onnx_export(Path(settings.model_path), settings.onnx_dir, "onnx-int8") == (folder, file_name)
    assert (settings.onnx_dir / "onnx" / "model.onnx").stat().st_mtime_ns == stamp  # not exported again
    # an index embedded with the earlier int8 scheme (the preset's defaults) is refused, naming both
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["encoder"]["quantization"] = f"qint8-dynamic-{scheme.preset}"
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ModelMismatch, match=f"qint8-dynamic-{scheme.preset}\\).*{scheme.name}"):
        KnowledgeBase(tmp_path / "index", settings)


def test_the_embedding_cache_keeps_int8_vectors_per_quantisation() -> None:
    assert KbSettings().backend == "onnx-int8"  # the default since its quality holds (docs/search.md)
    assert KbSettings(backend="onnx").encoder_id == "m3e-small|onnx"
    int8 = KbSettings(backend="onnx-int8")
    assert int8.encoder_id == f"m3e-small|onnx-int8|{int8.quantization}" and "per-channel" in int8.encoder_id


def test_an_encoder_given_threads_sleeps_between_queries_and_embeds_the_same(tmp_path: Path) -> None:
    settings = KbSettings(data_dir=tmp_path, onnx_root_override=Path(os.environ["HUB_KB_ONNX_DIR"]))
    shared = load_model(settings.model_path, "onnx-int8", settings.onnx_dir, threads=1)
    default = load_model(settings.model_path, "onnx-int8", settings.onnx_dir)
    options = shared[0].auto_model.session.get_session_options()
    assert (options.intra_op_num_threads, options.get_session_config_entry("session.intra_op.allow_spinning")) == (
        1,
        "0",
    )
    assert default[0].auto_model.session.get_session_options().intra_op_num_threads == 0  # ONNX Runtime's own
    query = ["供水管网爆管停水怎么处置", "山体崩塌后道路中断由谁负责"]
    assert np.allclose(shared.encode(query), default.encode(query), atol=1e-6)
    assert KbSettings(encoder_threads=1).encoder_id == KbSettings().encoder_id  # same vectors, same index


def worker_environments(server: LiveServer) -> list[dict[str, str]]:
    """The environments of the uvicorn worker processes under ``hub serve`` (children of its process)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            parent = int((proc / "stat").read_text().split(") ")[-1].split()[1])
            environ = (proc / "environ").read_bytes().split(b"\0")
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == server.process.pid and b"spawn_main" in cmdline:
            found.append(dict(e.decode().split("=", 1) for e in environ if b"=" in e))
    return found


def warm_up(server: LiveServer, key: str) -> None:
    """Each worker loads the model on start (seconds, more on a loaded machine): wait until both answer."""
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=300) as c:
        for _ in range(4):
            assert c.get("/api/search", params={"q": "预热", "mode": "vector"}).status_code == 200


# ---- Chroma as a server -------------------------------------------------------------------------------------
@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    server = start_chroma_server(tmp_path / "chroma_server")
    yield server
    stop_chroma_server(server)


def test_chroma_server_versions_switch_under_load_and_a_restart_is_survived(
    tmp_path: Path, chroma: ChromaServer
) -> None:
    data_dir = tmp_path / "data"
    docs = copy_docs(data_dir / "landing" / "kb", DOCS)
    index_root = data_dir / "kb" / "index"
    settings = KbSettings(data_dir=data_dir, chroma_url=chroma.url)
    first = build_index(docs, index_root, settings)
    manifest = json.loads((Path(first.version) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["dense"]["store"] == "server" and not (Path(first.version) / "chroma").exists()

    server = start_server(data_dir, "--workers", "2", env_extra={"HUB_CHROMA_URL": chroma.url})
    key = add_key(data_dir, "chroma-staff", "staff")
    failures: list[str] = []
    served: list[set[str]] = []
    stop = threading.Event()

    def searching() -> None:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
            while not stop.is_set():
                try:
                    response = c.get("/api/search", params={"q": "供水 爆管 停水 处置", "mode": "vector"})
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                else:
                    served.append({r["doc_id"] for r in response.json()["results"]})

    clients = [threading.Thread(target=searching) for _ in range(3)]
    try:
        warm_up(server, key)
        for thread in clients:
            thread.start()
        time.sleep(2)
        copy_docs(docs, (LATER,))  # a new document: a new version, a new collection, the pointer switched
        second = build_index(docs, index_root, settings)
        assert second.version != first.version and read_current(index_root) == Path(second.version)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(LATER in found for found in served[-6:]):
            time.sleep(0.2)
        assert any(LATER in found for found in served[-6:]), (failures[-3:], served[-3:])

        # the Chroma server restarts on the same port and data: the workers' searches go on
        port = int(chroma.url.rsplit(":", 1)[1])
        stop_chroma_server(chroma)
        restarted = start_chroma_server(chroma.path, port=port)
        chroma.process = restarted.process
        before = len(served)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(served) < before + 10:
            time.sleep(0.2)
        assert len(served) >= before + 10
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=60)
        stop_server(server)
    assert failures == []
    assert len(served) > 20
    # the server logs no line per query (at Chroma's default level it wrote several, megabytes a day)
    logs = [path.read_text(encoding="utf-8", errors="replace") for path in chroma.path.glob("*.log")]
    logged = sum(line.count("/query") for text in logs for line in text.splitlines())
    assert logged < len(served) / 2, (logged, len(served))


def test_a_chroma_server_that_is_down_leaves_keyword_results_and_says_so(tmp_path: Path, chroma: ChromaServer) -> None:
    """Hybrid search answers from BM25 (the version's own files) with ``dense_unavailable``, the page says so in
    Chinese, vector search is a 503 naming the vector store; once a query has found the server down the next ones
    try once instead of waiting out the restart window; a server back up gives vectors again."""
    data_dir = tmp_path / "data"
    docs = copy_docs(data_dir / "landing" / "kb", DOCS)
    build_index(docs, data_dir / "kb" / "index", KbSettings(data_dir=data_dir, chroma_url=chroma.url))
    server = start_server(data_dir, env_extra={"HUB_CHROMA_URL": chroma.url, "HUB_KB_QUERY_CACHE": "0"})
    key = add_key(data_dir, "chroma-down-staff", "staff")
    query = {"q": "供水管道爆裂 停水", "mode": "hybrid"}
    try:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
            warm_up(server, key)
            up = c.get("/api/search", params=query).json()
            assert up["dense_unavailable"] is False and any(r["dense_rank"] for r in up["results"])

            port = int(chroma.url.rsplit(":", 1)[1])
            stop_chroma_server(chroma)
            down = c.get("/api/search", params=query)  # rides out the restart window first, then answers
            assert down.status_code == 200, down.text
            body = down.json()
            assert body["dense_unavailable"] is True and body["results"]
            assert all(r["dense_rank"] is None and r["bm25_rank"] for r in body["results"])
            assert {r["doc_id"] for r in body["results"]} & set(DOCS[:2])

            started = time.monotonic()
            vector = c.get("/api/search", params={**query, "mode": "vector"})
            assert time.monotonic() - started < 5  # one attempt, not another ten seconds of retries
            assert vector.status_code == 503 and vector.json()["code"] == "vector_store_unavailable"
            assert "向量库未响应" in vector.json()["message_zh"]

            page = c.get("/search", params=query, headers={"Accept": "text/html"})
            assert page.status_code == 200 and "语义检索暂不可用" in page.text and "打开原文段落" in page.text
            vector_page = c.get("/search", params={**query, "mode": "vector"}, headers={"Accept": "text/html"})
            assert vector_page.status_code == 200 and "向量库未响应" in vector_page.text

            restarted = start_chroma_server(chroma.path, port=port)
            chroma.process = restarted.process
            back = c.get("/api/search", params=query).json()
            assert back["dense_unavailable"] is False and any(r["dense_rank"] for r in back["results"])
    finally:
        stop_server(server)


def test_serve_with_two_workers_starts_chroma_and_moves_an_embedded_index(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    docs = copy_docs(data_dir / "landing" / "kb", DOCS[:2])
    built = build_index(docs, data_dir / "kb" / "index", KbSettings(data_dir=data_dir))
    assert (Path(built.version) / "chroma").is_dir()  # embedded: the default
    env_before = os.environ.get("HUB_CHROMA_URL")
    server: LiveServer = start_server(data_dir, "--workers", "2")
    try:
        key = add_key(data_dir, "serve-staff", "staff")
        warm_up(server, key)
        # each worker embeds with its share of the cores (HUB_KB_THREADS), so they do not starve each other
        shares = [env.get("HUB_KB_THREADS") for env in worker_environments(server)]
        assert shares == [str(max(1, (os.cpu_count() or 1) // 2))] * 2
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
            body = c.get("/api/search", params={"q": "供水管道爆裂", "mode": "vector"}).json()
        assert body["results"] and body["results"][0]["doc_id"] in DOCS
        current = read_current(data_dir / "kb" / "index")
        assert current is not None and current != Path(built.version)
        manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["dense"]["store"] == "server"
        assert manifest["files"] == json.loads((Path(built.version) / "manifest.json").read_text())["files"]
    finally:
        stop_server(server)
    assert os.environ.get("HUB_CHROMA_URL") == env_before
    chroma_logs = list((data_dir / "kb" / "chroma_server").glob("chroma-*.log"))
    assert chroma_logs  # hub serve started chroma run itself
    assert chroma_processes(data_dir) == [], "hub serve --workers 2 left its chroma run behind"
    # One worker on an index whose vectors are on the server starts chroma too, and stops it on SIGTERM
    # (uvicorn re-raises the signal after its shutdown, which must not skip the stop).
    single: LiveServer = start_server(data_dir)
    try:
        assert chroma_processes(data_dir), "hub serve did not start chroma run for an index on the server"
    finally:
        stop_server(single)
    assert chroma_processes(data_dir) == [], "hub serve (one worker) left its chroma run behind"


def chroma_processes(data_dir: Path) -> list[int]:
    """Live ``chroma run`` processes serving <data_dir>/kb/chroma_server, whose config file is in it (/proc)."""
    path = (str(data_dir / "kb" / "chroma_server") + "/").encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().split(") ")[-1][:1]
        except OSError:
            continue
        serving = any(a.startswith(path) for a in cmdline)
        if state != "Z" and b"run" in cmdline and serving and any(b"chroma" in a for a in cmdline):
            found.append(int(proc.name))
    return found


def test_concurrent_query_embeddings_are_the_lone_ones_and_repeated_ones_cached(tmp_path: Path) -> None:
    """A query's vector does not depend on the searches running beside it (int8 activations are quantised per
    forward pass, so a batch of queries would give each a slightly different vector), and a repeat is cached."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    docs = copy_docs(tmp_path / "docs", DOCS[:1])
    settings = KbSettings(data_dir=tmp_path)
    build_index(docs, tmp_path / "index", settings)
    kb = KnowledgeBase(tmp_path / "index", settings)
    queries = [f"第{n}号 供水管网爆管 停水 如何处置" for n in range(24)]
    alone = {q: kb._embedder.embed_query(q) for q in queries}
    with ThreadPoolExecutor(max_workers=12) as pool:
        together = list(pool.map(kb.query_vector, queries))
    for query, (vector, cached) in zip(queries, together, strict=True):
        assert not cached
        assert np.array_equal(vector, alone[query])
    again, cached = kb.query_vector(queries[0])
    assert cached and np.array_equal(again, together[0][0])
    assert kb.query_cache.hits == 1 and kb.query_cache.misses == len(queries)
