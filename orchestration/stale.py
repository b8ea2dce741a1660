"""What a one-shot run must materialize: the stale part of the asset graph, by Dagster's own records.

An asset is stale when it was never materialized, when its code version (for dbt models: the node's
SQL) differs from the one its last materialization ran, when a parent's data version differs from
the one its last materialization read (Dagster records both on every materialization), or, for a model
computed as of a date (dbt tag ``as_of``), when it was last built as of another date. Ingest assets are
stale when their landing folder holds files not loaded yet (orchestration/ingest/pending.py). What a
stale asset feeds is stale too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from orchestration.automation import AS_OF_TAG

DATA_VERSION_TAG = "dagster/data_version"
CODE_VERSION_TAG = "dagster/code_version"
NEVER_BUILT = "从未构建 / never built"
CODE_CHANGED = "代码已变 / code changed"
UPSTREAM_CHANGED = "上游数据已变 / upstream data changed"
DATE_CHANGED = "基准日变化 / as-of date changed"
NEW_FILES = "有新文件 / new files"
LOST = "不在构建库中 / not in the build database"
ASKED = "按要求 / as asked"


@dataclass
class StalePlan:
    """The assets to materialize, and why each root of that set is stale."""

    reasons: dict[dg.AssetKey, str] = field(default_factory=dict)  # stale roots only
    selection: set[dg.AssetKey] = field(default_factory=set)  # roots and everything downstream of them
    sources: tuple[str, ...] = ()  # ingest sources with new files
    everything: bool = False
    total: int = 0  # materializable assets considered

    def describe(self) -> str:
        if self.everything:
            return f"全部模型 / every model ({ASKED})"
        if not self.selection:
            return "无需重建 / nothing is stale"
        counts: dict[str, int] = {}
        for reason in self.reasons.values():
            counts[reason] = counts.get(reason, 0) + 1
        why = "; ".join(f"{reason}: {n}" for reason, n in counts.items())
        if len(self.selection) >= self.total:
            return f"全部 / everything ({len(self.selection)} assets; {why})"
        changed = ", ".join(self.sources) or "无 / none"
        return (f"增量 / incremental: {len(self.selection)} assets, models downstream of changed sources ({changed}); "
                f"stale because {why}")


def _tags(event: dg.EventLogEntry | None) -> dict[str, str]:
    materialization = event.asset_materialization if event else None
    return dict(materialization.tags or {}) if materialization else {}


def _as_of(event: dg.EventLogEntry | None) -> str | None:
    materialization = event.asset_materialization if event else None
    value = materialization.metadata.get("as_of") if materialization else None
    return str(value.value) if value is not None else None


def stale_plan(graph: Any, instance: dg.DagsterInstance, *, ingest: dict[dg.AssetKey, str],
               pending_sources: Iterable[str], as_of: str, always: Iterable[dg.AssetKey] = (),
               exclude: Iterable[dg.AssetKey] = (), lost: Iterable[dg.AssetKey] = (),
               everything: bool = False) -> StalePlan:
    """``graph``: ``Definitions.resolve_asset_graph()``; ``ingest``: ingest asset key → its source;
    ``always``: keys materialized whatever (the KB index, incremental by itself); ``exclude``: keys left out;
    ``lost``: keys materialized once whose table is gone (a deleted or recreated build database)."""
    excluded = set(exclude)
    keys = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable and k not in excluded]
    pending = set(pending_sources)
    plan = StalePlan(sources=tuple(sorted(pending)), everything=everything, total=len(keys))
    if everything:
        plan.selection = set(keys)
        return plan
    latest = instance.get_latest_materialization_events(keys)
    lost = set(lost)
    for key in keys:
        node, event = graph.get(key), latest.get(key)
        if key in ingest:
            if ingest[key] in pending or event is None:
                plan.reasons[key] = NEW_FILES if ingest[key] in pending else NEVER_BUILT
            continue
        reason = LOST if key in lost and event is not None else _stale_reason(node, event, latest, as_of)
        if reason:
            plan.reasons[key] = reason
    plan.selection = (_with_descendants(graph, plan.reasons) | set(always)) - excluded
    return plan


def _stale_reason(node: Any, event: dg.EventLogEntry | None,
                  latest: Mapping[dg.AssetKey, dg.EventLogEntry | None], as_of: str) -> str | None:
    if event is None:
        return NEVER_BUILT
    tags = _tags(event)
    if node.code_version is not None and tags.get(CODE_VERSION_TAG) != node.code_version:
        return CODE_CHANGED
    provenance = dg.DataProvenance.from_tags(tags)
    if provenance is not None:
        for parent in node.parent_keys:
            current = _tags(latest.get(parent)).get(DATA_VERSION_TAG)
            read = provenance.input_data_versions.get(parent)
            if current is not None and (read is None or read.value != current):
                return UPSTREAM_CHANGED
    if AS_OF_TAG in node.tags and _as_of(event) != as_of:
        return DATE_CHANGED
    return None


def _with_descendants(graph: Any, roots: Iterable[dg.AssetKey]) -> set[dg.AssetKey]:
    found: set[dg.AssetKey] = set()
    todo = list(roots)
    while todo:
        key = todo.pop()
        if key in found:
            continue
        found.add(key)
        todo.extend(graph.get(key).child_keys)
    return found
