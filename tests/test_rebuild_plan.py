"""What `hub run` rebuilds: decided from the build state and the dbt project version of the last full build,
on a real build database loaded from the hand-made registry exports."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from hub.core.paths import HubPaths
from orchestration.dbt_assets import dbt_fingerprint, record_built_fingerprint
from orchestration.ingest.load import ingest_landing
from orchestration.pipeline import BUILD_STATE_FILE, plan_rebuild, write_build_state
from orchestration.resources import HUB_TIMEZONE

FIXTURE = Path(__file__).parent / "fixtures" / "handmade" / "landing"
AS_OF = date(2025, 6, 30)


@pytest.fixture()
def built(tmp_path: Path) -> HubPaths:
    """A data directory as a successful `hub run` leaves it: loads, the build state, the built version."""
    paths = HubPaths(tmp_path / "data")
    shutil.copytree(FIXTURE / "registry", tmp_path / "landing" / "registry")
    paths.warehouse.mkdir(parents=True)
    ingest_landing(paths.build_db, tmp_path / "landing")
    write_build_state(paths, AS_OF, datetime.now(HUB_TIMEZONE).replace(tzinfo=None))  # as hub run records it
    (paths.data_dir / "dbt").mkdir()
    record_built_fingerprint(paths.data_dir, dbt_fingerprint())
    return paths


def test_nothing_changed_means_no_model_but_the_daily_ones(built: HubPaths) -> None:
    plan = plan_rebuild(built, AS_OF, rebuild_all=False)
    assert not plan.full and plan.changed_sources == () and not plan.as_of_changed
    assert plan_rebuild(built, date(2025, 7, 1), rebuild_all=False).as_of_changed


def test_a_full_build_by_dagster_counts_like_one_by_hub_run(built: HubPaths) -> None:
    """A scheduled full build records the project version it built; `hub run` does not rebuild all again."""
    state = json.loads((built.state / BUILD_STATE_FILE).read_text(encoding="utf-8"))
    state["dbt_fingerprint"] = "the version before"  # as a state file of an older hub wrote it
    (built.state / BUILD_STATE_FILE).write_text(json.dumps(state), encoding="utf-8")
    assert not plan_rebuild(built, AS_OF, rebuild_all=False).full

    record_built_fingerprint(built.data_dir, "the version before")
    plan = plan_rebuild(built, AS_OF, rebuild_all=False)
    assert plan.full and "dbt project changed" in plan.reason


def test_an_older_data_directory_falls_back_on_its_state_file(built: HubPaths) -> None:
    (built.data_dir / "dbt" / "built_fingerprint").unlink()
    state = json.loads((built.state / BUILD_STATE_FILE).read_text(encoding="utf-8"))
    (built.state / BUILD_STATE_FILE).write_text(json.dumps({**state, "dbt_fingerprint": dbt_fingerprint()}),
                                                encoding="utf-8")
    assert not plan_rebuild(built, AS_OF, rebuild_all=False).full
    (built.state / BUILD_STATE_FILE).write_text(json.dumps({**state, "dbt_fingerprint": "old"}), encoding="utf-8")
    assert plan_rebuild(built, AS_OF, rebuild_all=False).full


def test_a_recreated_build_database_is_rebuilt_in_full(built: HubPaths) -> None:
    built.build_db.unlink()
    ingest_landing(built.build_db, built.data_dir.parent / "landing")  # new load ids
    plan = plan_rebuild(built, AS_OF, rebuild_all=False)
    assert plan.full and "build database is new" in plan.reason
