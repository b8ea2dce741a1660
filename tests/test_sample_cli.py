"""``hub sample`` as a user runs it: the real console command, its help, add-day and serve-events."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

HUB = [sys.executable, "-m", "hub.cli.main"]


def run_hub(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HUB, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )


def test_help_on_each_command(tmp_path: Path) -> None:
    for args in (("sample", "--help"), ("sample", "serve-events", "--help"), ("sample", "add-day", "--help")):
        result = run_hub(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Usage:" in result.stdout


def test_generate_then_add_day(tmp_path: Path) -> None:
    out = tmp_path / "landing"
    result = run_hub(
        "sample", "--out", str(out), "--seed", "2", "--scale", "small", "--as-of", "2025-03-31", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "four_platforms" in result.stdout and "registry" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["four_platforms", "registry", "urban", "utility", "water"]
    added = run_hub("sample", "add-day", "--out", str(out), "--seed", "2", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert (out / "four_platforms" / "events_20250401.jsonl").is_file()
    again = run_hub("sample", "add-day", "--out", str(out), "--date", "2025-03-01", cwd=tmp_path)
    assert again.returncode != 0 and "--date" in again.stderr and "Traceback" not in again.stderr
    # the group's options reach the subcommand: `hub sample --out X --scale medium add-day`
    grouped = run_hub("sample", "--out", str(out), "--scale", "medium", "add-day", cwd=tmp_path)
    assert grouped.returncode == 0, grouped.stderr
    day = (out / "four_platforms" / "events_20250402.jsonl").read_text(encoding="utf-8").splitlines()
    first_day = (out / "four_platforms" / "events_20250401.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(day) > 5 * len(first_day)  # medium: about 20× the events of small


def test_bad_scale_is_a_usage_error(tmp_path: Path) -> None:
    result = run_hub("sample", "--out", str(tmp_path), "--scale", "huge", cwd=tmp_path)
    assert result.returncode == 2 and "huge" in result.stderr and "Traceback" not in result.stderr


def test_serve_events_command(tmp_path: Path) -> None:
    events = tmp_path / "four_platforms"
    events.mkdir()
    (events / "events_20250101.jsonl").write_text(
        '{"eventId":"SJ1","title":"积水","updatedAt":"2025-01-01 08:00:00"}\n'
        '{"eventId":"SJ2","title":"停水","updatedAt":"2025-01-01T09:00:00+08:00"}\n',
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [*HUB, "sample", "serve-events", "--events", str(events), "--port", "0", "--quiet"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        # As a CI job or a background shell may start it: with SIGTERM ignored, which children inherit.
        preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN),
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        url = re.search(r"http://[\d.]+:\d+/api/v1/events", banner)
        assert url, banner
        body = httpx.get(url.group(0), params={"updatedSince": "2025-01-01T08:00:00+08:00"}, timeout=10).json()
        assert [i["eventId"] for i in body["items"]] == ["SJ2"] and body["nextPageToken"] is None
    finally:
        process.terminate()
        try:
            assert process.wait(timeout=10) == 0  # stopped like on Ctrl-C
        finally:
            process.kill()  # a no-op once it has exited
