"""Sample data as generated: every check passes except exactly the contract breaks the generator plants.

The generator always plants a few contract-breaking rows (``planted/<source>__<entity>:<kind>`` in
its return value, see hub/sample/breaks.py) and department names no crosswalk knows.
So the report must show those — each in the check of its kind, with the planted count — and
nothing else: fresh sources, steady volume, no broken reference, no cross-source conflict.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from dbt_fixtures import run_dbt

from hub.core.paths import HubPaths
from hub.sample import generate
from orchestration.ingest.load import ingest_landing
from orchestration.quality.report import produce_report
from orchestration.quality.results import CheckResult

pytestmark = pytest.mark.slow  # a real ingest + dbt build of sample data (about a minute)

AS_OF = date(2026, 11, 28)
# The kind of check each planted break belongs to.
PLANTED_KIND = {
    "missing_required": "completeness",
    "duplicate_key": "uniqueness",
    "bad_date": "validity",
    "bad_enum": "validity",
    "unknown_town": "crosswalk",
}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, CheckResult], Counter[str]]:
    root: Path = tmp_path_factory.mktemp("quality_clean")
    paths = HubPaths(root)
    counts = generate(paths.landing, seed=7, scale="small", as_of=AS_OF)
    planted: Counter[str] = Counter()
    for key, n in counts.items():
        if key.startswith("planted/"):
            table, kind = key.removeprefix("planted/").split(":")
            source, entity = table.split("__")
            planted[f"{PLANTED_KIND[kind]}:{source}.{entity}"] += n
    ingest_landing(paths.build_db, paths.landing)
    built = run_dbt(["build"], build_db=paths.build_db, work_dir=root / "dbt", as_of=AS_OF.isoformat())
    assert "quality_rule_results" in built.stdout, built.stdout[-3000:]
    outcome = produce_report(paths, as_of=AS_OF, webhook_url="")
    return {r.check_name: r for r in outcome.results}, planted


def test_planted_breaks_are_reported_with_their_exact_counts(
    clean_run: tuple[dict[str, CheckResult], Counter[str]],
) -> None:
    results, planted = clean_run
    assert planted, "the generator plants contract breaks"
    for name, count in planted.items():
        check = results[name]
        assert check.status != "pass", name
        quarantined = [f for f in check.findings if f.location]  # crosswalk also lists unmapped unit names
        assert len(quarantined) == count, name


def test_everything_not_planted_passes(clean_run: tuple[dict[str, CheckResult], Counter[str]]) -> None:
    results, planted = clean_run
    not_passing = {
        name: (r.status, r.failing_rows)
        for name, r in results.items()
        if r.status != "pass"
        and name not in planted
        and r.kind not in ("crosswalk", "quarantine")  # unmapped department names are planted too (warnings)
    }
    assert not_passing == {}
    for kind in ("freshness", "volume", "referential", "consistency"):
        assert [r.status for r in results.values() if r.kind == kind] == \
            ["pass"] * sum(r.kind == kind for r in results.values()), kind
    assert {r.source for r in results.values() if r.kind == "freshness"} == {
        "four_platforms", "water", "urban", "utility", "registry"}


def test_quarantine_summary_per_source_adds_up(clean_run: tuple[dict[str, CheckResult], Counter[str]]) -> None:
    results, planted = clean_run
    for source in ("four_platforms", "water", "urban", "utility", "registry"):
        expected = sum(n for name, n in planted.items() if name.split(":")[1].startswith(source + "."))
        summary = results[f"quarantine:{source}"]
        assert summary.failing_rows == expected, source
        assert summary.status == ("warn" if expected else "pass")
        assert sum(int(f.reason.split(" ")[0]) for f in summary.findings) == expected
