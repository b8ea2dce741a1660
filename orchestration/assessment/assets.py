"""Dagster side of the assessment: the month-partitioned ``assessment_month`` asset, the daily schedule that
closes last month, and the ``assessment_notices`` asset that sends the 督办单 after each publish."""


from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from orchestration.assessment.monthly import KEPT_TABLES, compute_month, month_key, republish
from orchestration.assessment.notices import send_notices
from orchestration.resources import DUCKDB_WRITER_POOL, HubSettings, today_in_shanghai

TIMEZONE = "Asia/Shanghai"
DAILY_CRON = "0 8 * * *"  # after the 07:00 pipeline has rolled the shared views over to the new day
ASSESSMENT_GROUP = "assessment"
FIRST_MONTH = "2024-01-01"

# end_offset=1: the month in progress is a partition too (the latest), recomputed daily until it closes.
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH, timezone=TIMEZONE, end_offset=1)


class AssessmentMonthConfig(dg.Config):
    recompute_closed: bool = False  # compute a closed, kept month again (e.g. after a data correction)


@dg.asset(
    name="assessment_month",
    group_name=ASSESSMENT_GROUP,
    partitions_def=monthly_partitions,
    deps=[dg.AssetKey(model) for model in KEPT_TABLES.values()],
    # writes the kept tables and rebuilds the history models: never during the pipeline's dbt or publish
    pool=DUCKDB_WRITER_POOL,
    automation_condition=dg.AutomationCondition.on_cron(DAILY_CRON, TIMEZONE),
    description="月度考核（按月分区）：把该月的镇街、部门考核结果及依据保存到 assessment_kept / the month's "
    "town and department assessment with its evidence, computed as of the month's last day (today while it "
    "is open) and kept by month",
)
def assessment_month(context: dg.AssetExecutionContext, config: AssessmentMonthConfig,
                     hub_settings: HubSettings) -> dg.MaterializeResult:
    if not context.has_partition_key:
        # part of an unpartitioned run (the full pipeline, `hub run`): months are the schedule's business
        context.log.info("未指定月份分区，跳过 / no month partition in this run: nothing computed")
        return dg.MaterializeResult(metadata={"skipped": True, "reason": "no partition key"})
    warehouse = hub_settings.warehouse_engine  # DuckDB in the data directory, or a PostgreSQL server
    month = month_key(context.partition_key)
    # today, unless the deployment runs as of a fixed date (HubSettings.as_of)
    result = compute_month(hub_settings.paths, month, hub_settings.as_of_date(),
                           recompute_closed=config.recompute_closed, warehouse=warehouse)
    if result.skipped:
        context.log.info(f"{month} 已结月并保存，不重算 / closed and kept as of {result.as_of}: not recomputed")
    else:
        # the pages show the month now, not after the next publish
        published = republish(hub_settings.paths, warehouse=warehouse)
        context.log.info(f"{month} kept as of {result.as_of}; published {published}")
    return dg.MaterializeResult(metadata={
        "month": month, "as_of": result.as_of.isoformat(), "closed": result.closed, "skipped": result.skipped,
        "row_counts": dg.MetadataValue.json(result.row_counts),
    })


assessment_month_job = dg.define_asset_job(
    "assessment_monthly", selection=dg.AssetSelection.assets("assessment_month"),
    description="月度考核 / compute and keep one month of the assessment",
)


def months_to_request(today: date) -> list[str]:
    """The partition keys the daily schedule asks for: this month, and last month during the first three days
    (closing it as of its last day; a month already closed and kept is skipped by the asset)."""
    first = today.replace(day=1)
    keys = [first.isoformat()]
    if today.day <= 3:
        keys.insert(0, (first - timedelta(days=1)).replace(day=1).isoformat())
    return keys


@dg.schedule(name="assessment_daily", cron_schedule=DAILY_CRON, execution_timezone=TIMEZONE,
             job=assessment_month_job, default_status=dg.DefaultScheduleStatus.RUNNING,
             description="每天 08:00 重算本月考核；每月 1–3 日结算上月 / daily: the current month; on the 1st–3rd "
             "also last month, closed as of its last day")
def assessment_daily(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    scheduled = context.scheduled_execution_time
    today = scheduled.astimezone(ZoneInfo(TIMEZONE)).date() if scheduled else today_in_shanghai()
    return [dg.RunRequest(run_key=f"assessment-{key}-{today.isoformat()}", partition_key=key)
            for key in months_to_request(today)]


@dg.asset(
    name="assessment_notices",
    group_name=ASSESSMENT_GROUP,
    deps=[dg.AssetKey("serving_snapshot")],
    automation_condition=dg.AutomationCondition.eager(),
    description="督办单推送：按责任单位把逾期及未闭环事项推送到其机器人 webhook（每事项每级只发一次）/ follow-up "
    "notices per responsible unit through its robot webhook, each item once per escalation level",
)
def assessment_notices(context: dg.AssetExecutionContext, hub_settings: HubSettings) -> dg.MaterializeResult:
    outcome = send_notices(hub_settings.paths, public_url=hub_settings.public_url,
                           webhooks_csv=Path(hub_settings.notice_webhooks) if hub_settings.notice_webhooks else None,
                           warehouse_url=hub_settings.warehouse_engine.url)
    context.log.info(outcome.summary())
    return dg.MaterializeResult(metadata=outcome.metadata())
