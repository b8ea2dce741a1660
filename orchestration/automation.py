"""When the daemon materializes what: Dagster automation conditions for every asset, and the sensor that
evaluates them.

- a new file in the landing folder starts its ingest asset (the landing sensors); everything downstream
  of it (dbt models, publish, quality report) is then requested by ``eager`` in one run on the next tick;
- a dbt model whose code changed (its code version is a hash of its SQL, dagster-dbt's default) is rebuilt with
  what depends on it;
- at 07:00 Asia/Shanghai the ingest assets run (the four-platforms feed, anything the sensors missed), the
  models computed as of a date (dbt tag ``as_of``) roll over to the new day, and the morning quality
  report is written; the knowledge base is re-indexed (incremental: only changed documents are embedded).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

DAILY_CRON = "0 7 * * *"
TIMEZONE = "Asia/Shanghai"
AS_OF_TAG = "as_of"  # dbt tag of the models computed as of a date (dbt_project)
AUTOMATION_SENSOR = "hub_automation"
# How often the landing sensors look at landing/: a look is a directory listing, and every second of it is
# latency between a file landing and its rows being served.
LANDING_SENSOR_INTERVAL_SECONDS = 10


def daily_tick() -> dg.AutomationCondition:
    """Once after each 07:00 tick, when nothing it depends on is running."""
    return (
        dg.AutomationCondition.cron_tick_passed(DAILY_CRON, TIMEZONE).since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("daily 07:00 Asia/Shanghai")


def on_new_data() -> dg.AutomationCondition:
    """After any dependency updated (or will in the same tick), or when this asset's code changed."""
    return dg.AutomationCondition.eager() | (
        dg.AutomationCondition.code_version_changed() & ~dg.AutomationCondition.in_progress()
    ).with_label("code version changed")


INGEST = daily_tick()  # new files start ingest through the landing sensors, not through a condition
DBT_MODEL = on_new_data()
AS_OF_MODEL = on_new_data() | daily_tick()
PUBLISH = on_new_data()
QUALITY_REPORT = on_new_data() | daily_tick()
KB_INDEX = dg.AutomationCondition.on_missing() | daily_tick()


def for_dbt_node(dbt_resource_props: Mapping[str, Any]) -> dg.AutomationCondition:
    tags = set(dbt_resource_props.get("tags") or []) | set((dbt_resource_props.get("config") or {}).get("tags") or [])
    return AS_OF_MODEL if AS_OF_TAG in tags else DBT_MODEL


def for_asset(key: dg.AssetKey, group: str | None) -> dg.AutomationCondition | None:
    """The condition of one of the hub's own (non-dbt) assets, by its group and key."""
    if group and group.startswith("ingest_"):
        return INGEST
    if key == dg.AssetKey("serving_snapshot"):
        return PUBLISH
    if key == dg.AssetKey("quality_report"):
        return QUALITY_REPORT
    if key == dg.AssetKey("kb_index"):
        return KB_INDEX
    return None


def with_conditions(assets_def: Any) -> Any:
    """The same asset definition with the hub's condition on every spec that has none yet."""
    if not isinstance(assets_def, dg.AssetsDefinition):
        return assets_def

    def condition(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.automation_condition is not None:
            return spec
        chosen = for_asset(spec.key, spec.group_name) or DBT_MODEL
        return spec.replace_attributes(automation_condition=chosen)

    return assets_def.map_asset_specs(condition)


automation_sensor = dg.AutomationConditionSensorDefinition(
    AUTOMATION_SENSOR,
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=10,
    description="按资产的自动化条件请求运行 / requests runs from every asset's automation condition",
)
