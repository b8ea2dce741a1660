"""考核与督办: the monthly assessment kept month by month, and the follow-up notices (督办单).

- ``monthly``: compute one month as of its last day (today while open) on a scratch build (a copy of the DuckDB
  build database, or a scratch schema on a server warehouse) and keep its rows in the ``assessment_kept`` tables;
- ``notices``: send each responsible unit its open items through its robot webhook, once per item and
  escalation level, recorded in a notice log outside the build database;
- ``assets``: the Dagster side — ``assessment_month`` (partitioned by month, Asia/Shanghai), the daily
  ``assessment_daily`` schedule, and ``assessment_notices`` after each publish.

``orchestration/definitions.py`` wires in ``assessment_assets``, ``assessment_schedules`` and
``assessment_sensors``.
"""

import importlib
from typing import Any

__all__ = ["assessment_assets", "assessment_schedules", "assessment_sensors"]


def __getattr__(name: str) -> Any:
    """The Dagster definitions, imported on first use: ``python -m orchestration.assessment.monthly`` (or
    ``.notices``) runs without loading Dagster."""
    if name not in __all__:
        raise AttributeError(name)
    assets = importlib.import_module("orchestration.assessment.assets")
    parts = {
        "assessment_assets": [assets.assessment_month, assets.assessment_notices],
        "assessment_schedules": [assets.assessment_daily],
        "assessment_sensors": [],
    }
    return parts[name]
