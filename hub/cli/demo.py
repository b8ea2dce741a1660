"""``hub demo`` (what ``make run`` calls): the whole system on generated data, then the API.

Steps: generate sample data into DATA_DIR/landing, copy the demo plans into landing/kb, start the
four-platforms feed simulator on a free port, run the pipeline with the feed URL (ingest, dbt,
KB index and quality report when those parts exist, publish), then serve the API. A step whose
part is not available yet is skipped with a note.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hub.core.paths import PROJECT_ROOT, HubPaths
from orchestration.pipeline import run_pipeline
from orchestration.resources import today_in_shanghai

Echo = Callable[[str], None]
KB_DOCS = PROJECT_ROOT / "hub" / "sample" / "kb_docs"
HUB = [sys.executable, "-m", "hub.cli.main"]
STEP_NOTES = {"success": "完成 / done", "failure": "失败 / failed (see the log above)",
              "skipped": "未运行（上游失败）/ not run (an upstream step failed)"}


PROGRESS_SECONDS = 20.0  # a line at least this often while the pipeline runs, so a long first build is not silent
PAGES = (
    ("/", "首页 / home"),
    ("/search", "搜索 / search"),
    ("/tables", "数据表 / tables"),
    ("/sql", "SQL 查询 / SQL"),
    ("/towns", "镇街档案 / towns"),
    ("/assessment", "考核督办 / assessment"),
    ("/quality", "数据质量 / quality"),
    ("/schema/swagger", "API 文档 / API docs"),
)


def padded(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns: a Chinese character takes two, so str.ljust misaligns."""
    columns = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - columns)


@contextmanager
def _progress(echo: Echo, every: float = PROGRESS_SECONDS) -> Iterator[None]:
    """Print "still running (N s)" every ``every`` seconds until the block ends."""
    started, done = time.monotonic(), threading.Event()

    def beat() -> None:
        while not done.wait(every):
            echo(f"      …仍在运行 / still running ({time.monotonic() - started:.0f}s)")

    thread = threading.Thread(target=beat, name="demo-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=1)


def _kb_counts(paths: HubPaths) -> str:
    """"（7 篇文档，93 个片段）" from the published index's manifest; empty when it cannot be read."""
    try:
        from hub.core.pointer import read_current

        version = read_current(paths.kb_index)
        manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8")) if version else {}
    except (OSError, ValueError):
        return ""
    if "documents" not in manifest:
        return ""
    skipped = len(manifest.get("skipped") or [])
    return (f"（{manifest['documents']} 篇文档，{manifest.get('chunks', 0)} 个片段"
            + (f"，跳过 {skipped} 个文件" if skipped else "") + f"）/ {manifest['documents']} documents, "
            f"{manifest.get('chunks', 0)} chunks" + (f", {skipped} files skipped" if skipped else ""))


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _generate(paths: HubPaths, scale: str, seed: int, echo: Echo) -> None:
    from hub.sample import generate

    started = time.monotonic()
    counts = generate(paths.landing, seed=seed, scale=scale, as_of=today_in_shanghai())
    files = [k for k in counts if not k.startswith("planted/") and "#" not in k]
    planted = sum(v for k, v in counts.items() if k.startswith("planted/"))
    echo(f"[1/6] 样例数据 / sample data ({scale}, seed {seed}): {len(files)} files in {paths.landing}, "
         f"{planted} contract-breaking rows planted on purpose ({time.monotonic() - started:.1f}s)")


def _copy_kb_docs(paths: HubPaths, echo: Echo) -> None:
    target = paths.landing / "kb"
    if not KB_DOCS.is_dir():
        echo("      知识库样例文档缺失 / no demo documents in hub/sample/kb_docs: skipped")
        return
    shutil.copytree(KB_DOCS, target, dirs_exist_ok=True)
    echo(f"      知识库样例文档 / demo plans and cases copied to {target}")


def _start_feed(paths: HubPaths, echo: Echo) -> tuple[object | None, str | None]:
    if not _available("hub.sample.feed_server"):
        echo("[2/6] 四平台接口模拟器尚未提供 / feed simulator not available yet: events come from files only")
        return None, None
    from hub.sample.feed_server import start_feed_server

    server, base_url = start_feed_server(paths.landing / "four_platforms", "127.0.0.1", port=0)
    echo(f"[2/6] 四平台接口模拟器 / four-platforms feed simulator: {base_url}")
    return server, base_url


def _stop_feed(server: object | None) -> None:
    shutdown = getattr(server, "shutdown", None)
    if callable(shutdown):
        shutdown()
    close = getattr(server, "server_close", None)
    if callable(close):
        close()


def _demo_key(paths: HubPaths, echo: Echo) -> None:
    result = subprocess.run([*HUB, "keys", "add", f"demo-{int(time.time())}", "--role", "admin", "--data-dir",
                             str(paths.data_dir)], capture_output=True, text=True, check=False)
    if result.returncode == 0:
        echo("演示密钥 / demo API key (admin):\n" + result.stdout.strip())
    else:
        echo("      演示密钥未创建 / no demo key: " + (result.stderr.strip().splitlines() or ["?"])[-1])


def run_demo(paths: HubPaths, host: str, port: int, scale: str = "small", seed: int = 7, serve: bool = True,
             echo: Echo = print) -> bool:
    started = time.monotonic()
    if paths.landing.exists():
        echo(f"      沿用已有落地目录 / re-using {paths.landing} (delete it for fresh sample data)")
    else:
        _generate(paths, scale, seed, echo)
    _copy_kb_docs(paths, echo)
    server, feed_url = _start_feed(paths, echo)
    try:
        echo("[3/6] 运行流水线 / running the pipeline (ingest, dbt build, KB index, quality, publish); "
             "首次构建约需数分钟 / the first build takes a few minutes ...")
        with _progress(echo):
            outcome = run_pipeline(paths, landing=paths.landing, feed_url=feed_url, echo=echo)
    finally:
        _stop_feed(server)
    steps = (("knowledge_base", "kb_index", "[4/6] 知识库索引 / KB index"),
             ("quality", "quality_report", "[5/6] 质量报告 / quality report"))
    for part, step_key, label in steps:
        if part in outcome.missing_parts:
            note = "跳过（尚未提供）/ skipped (not available yet)"
        else:
            note = STEP_NOTES.get(outcome.step_status.get(step_key, ""), "未运行 / did not run")
            if part == "knowledge_base" and outcome.step_status.get(step_key) == "success":
                note += _kb_counts(paths)
        echo(f"{label}: {note}")
    echo(f"演示数据准备用时 / demo build took {time.monotonic() - started:.0f}s")
    if not outcome.success:
        echo("流水线失败，API 仍将提供上一快照 / the pipeline failed; the API serves the previous snapshot if any")
    if not serve:
        return outcome.success
    return _serve(paths, host, port, echo)


def _serve(paths: HubPaths, host: str, port: int, echo: Echo) -> bool:
    if not _available("api.app"):
        echo("[6/6] API 尚未提供 / the API is not available yet: query with `hub sql --data-dir "
             f"{paths.data_dir} \"SELECT * FROM town_readiness\"`")
        return True
    _demo_key(paths, echo)
    base = f"http://{host}:{port}"
    echo(f"[6/6] 启动 API / starting the API on {base}/ (演示模式 / demo mode; 按 Ctrl+C 停止 / Ctrl+C to stop)")
    for path, label in PAGES:
        echo(f"      {padded(label, 22)} {base}{path}")
    command = [*HUB, "serve", "--data-dir", str(paths.data_dir), "--host", host, "--port", str(port), "--demo"]
    try:
        return subprocess.run(command, check=False).returncode == 0
    except KeyboardInterrupt:
        return True
