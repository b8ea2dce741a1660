"""Dagster asset that indexes the plans and cases in ``landing/kb/`` and publishes the search index.

The work is the ``kb`` library's (parse, chunk, embed, BM25 + Chroma, atomic publish); this asset
only points it at the hub's data directory and reports what happened. The index is a new version
directory switched in by ``CURRENT`` (docs/decisions/0005-build-and-serve-are-separate-snapshots.md), so the
API keeps serving the old one until the new one is complete. No DuckDB writer pool: the index touches no DuckDB file.
"""

import dagster as dg

from hub.core.paths import HubPaths
from orchestration.resources import HubSettings

KB_GROUP = "knowledge_base"


@dg.asset(
    name="kb_index",
    group_name=KB_GROUP,
    description="知识库检索索引（BM25 + 向量，原子发布）/ search index of plans and cases, published atomically",
    kinds={"python", "chroma"},
)
def kb_index(context: dg.AssetExecutionContext, hub_settings: HubSettings) -> dg.MaterializeResult:
    from kb.indexer import build_index
    from kb.settings import KbSettings

    # from_env honours HUB_LANDING_DIR (`hub run --landing DIR`); the data directory is the resource's.
    paths = HubPaths.from_env(hub_settings.data_dir)
    docs_dir = paths.landing_for("kb")
    if not docs_dir.is_dir():
        raise dg.Failure(
            description=f"知识库文档目录不存在 / knowledge base folder not found: {docs_dir}",
            metadata={"docs_dir": dg.MetadataValue.path(str(docs_dir))},
        )
    settings = KbSettings.from_env().with_changes(data_dir=paths.data_dir)
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


kb_assets = [kb_index]
