"""Dagster asset that indexes the plans and cases in ``landing/kb/`` and publishes the search index.

The work is the ``kb`` library's (parse, chunk, embed, BM25 + Chroma, atomic publish); this asset
only points it at the hub's data directory and reports what happened. The index is a new version
directory switched in by ``CURRENT`` (docs/decisions/0005-build-and-serve-are-separate-snapshots.md), so the
API keeps serving the old one until the new one is complete. No DuckDB writer pool: the index touches no DuckDB file.
"""

import hashlib
import json

import dagster as dg

from kb.settings import KbSettings
from orchestration.automation import LANDING_SENSOR_INTERVAL_SECONDS
from orchestration.resources import HubSettings

KB_GROUP = "knowledge_base"
# The KB's own settings (model, backend, chunking: HUB_KB_*), read once when the code location loads.
KB_SETTINGS = KbSettings.from_env()


@dg.asset(
    name="kb_index",
    group_name=KB_GROUP,
    description="知识库检索索引（BM25 + 向量，原子发布）/ search index of plans and cases, published atomically",
    kinds={"python", "chroma"},
)
def kb_index(context: dg.AssetExecutionContext, hub_settings: HubSettings) -> dg.MaterializeResult:
    from kb.indexer import build_index

    paths = hub_settings.paths
    docs_dir = paths.landing_for("kb")
    if not docs_dir.is_dir():
        raise dg.Failure(
            description=f"知识库文档目录不存在 / knowledge base folder not found: {docs_dir}",
            metadata={"docs_dir": dg.MetadataValue.path(str(docs_dir))},
        )
    settings = KB_SETTINGS.with_changes(data_dir=paths.data_dir)
    logged: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        # Log each stage at about every quarter, not per chunk.
        logged[stage] = logged.get(stage, 0) + done
        step = max(1, total // 4)
        if logged[stage] == total or logged[stage] // step != (logged[stage] - done) // step:
            context.log.info(f"{stage}: {logged[stage]}/{total}")

    report = build_index(docs_dir, paths.kb_index, settings, progress=progress)
    for skipped in report.skipped:
        context.log.warning(f"跳过 skipped {skipped.file}: {skipped.reason}")
    return dg.MaterializeResult(
        metadata={
            "documents": report.documents,
            "chunks": report.chunks,
            "embedded": report.embedded,
            "cached": report.cached,
            "changed_documents": len(report.changed_documents),
            "removed_documents": len(report.removed_documents),
            "unchanged": report.unchanged,
            "skipped_files": len(report.skipped),
            "skipped": dg.MetadataValue.md(
                "\n".join(f"- `{s.file}`: {s.reason}" for s in report.skipped) or "none"
            ),
            "version": dg.MetadataValue.path(str(report.version)) if report.version else "none",
            "seconds": round(report.seconds, 2),
        }
    )


def documents_snapshot(hub_settings: HubSettings) -> dict[str, int]:
    """Relative path → mtime (ns) of every file under landing/kb/."""
    folder = hub_settings.paths.landing_for("kb")
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@dg.sensor(
    name="kb_landing_sensor",
    target=[kb_index],
    minimum_interval_seconds=LANDING_SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="landing/kb/ 文档增删改时重建知识库索引 / re-index when documents are added, changed or removed",
)
def kb_landing_sensor(context: dg.SensorEvaluationContext,
                      hub_settings: HubSettings) -> dg.SensorResult | dg.SkipReason:
    seen = documents_snapshot(hub_settings)
    previous: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    if seen == previous:
        return dg.SkipReason("landing/kb/ 无变化 / no document changed")
    cursor = json.dumps(seen, ensure_ascii=False, sort_keys=True)
    run_key = "kb:" + hashlib.sha256(cursor.encode()).hexdigest()[:16]
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=run_key)], cursor=cursor)


kb_assets = [kb_index]
kb_sensors = [kb_landing_sensor]
