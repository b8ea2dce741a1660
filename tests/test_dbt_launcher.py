"""hub-dbt: dbt's own command line, with a `--version` that does not import dbt (dagster-dbt asks it every run)."""

import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from orchestration.resources import dbt_executable


def test_the_hub_starts_dbt_as_hub_dbt() -> None:
    assert Path(dbt_executable()) == Path(sys.executable).parent / "hub-dbt"


def test_version_is_dbt_cores_and_answers_without_importing_dbt() -> None:
    proc = subprocess.run([dbt_executable(), "--version"], capture_output=True, text=True, check=True)
    # the first x.y.z is what dagster-dbt reads as the dbt version
    assert re.search(r"(\d+\.\d+\.\d+)", proc.stdout).group(1) == version("dbt-core")
    probe = ("import sys; sys.argv = ['hub-dbt', '--version']; from orchestration import dbt_launcher; "
             "dbt_launcher.main(); print(sorted(m for m in sys.modules if m == 'dbt' or m.startswith('dbt.')))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines()[-1] == "[]"


def test_every_other_command_is_dbts() -> None:
    proc = subprocess.run([dbt_executable(), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "build" in proc.stdout and "Run all seeds, models, snapshots, and tests" in proc.stdout
    proc = subprocess.run([dbt_executable(), "no-such-command"], capture_output=True, text=True)
    assert proc.returncode != 0  # dbt's own refusal, exit status passed on
