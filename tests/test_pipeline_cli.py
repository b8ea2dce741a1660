"""``hub run`` / ``hub demo`` refuse bad input with a message naming the parameter, never a stack trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HUB = [sys.executable, "-m", "hub.cli.main"]


def _hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HUB, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})


def test_run_names_a_missing_landing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    proc = _hub("run", "--landing", str(missing), "--data-dir", str(tmp_path / "data"))
    assert proc.returncode == 2
    assert "--landing" in proc.stderr and str(missing) in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "data" / "serving").exists()


def test_run_names_a_bad_as_of_date(tmp_path: Path) -> None:
    (tmp_path / "landing").mkdir()
    proc = _hub("run", "--landing", str(tmp_path / "landing"), "--data-dir", str(tmp_path / "data"),
                "--as-of", "2025-13-01")
    assert proc.returncode == 2
    assert "--as-of" in proc.stderr and "YYYY-MM-DD" in proc.stderr and "Traceback" not in proc.stderr


def test_help_of_each_command() -> None:
    for command in ("run", "sql", "demo"):
        proc = _hub(command, "--help")
        assert proc.returncode == 0 and "--data-dir" in proc.stdout
