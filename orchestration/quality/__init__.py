"""Data-quality checks, their history, the daily report (HTML + JSON) and the pass→fail alert.

Modules, one job each:
- ``results``: the ``CheckResult`` record and how a measurement becomes pass / warn / fail;
- ``collect``: every check of one run, measured on the build database (dbt ``quality_*`` models,
  ingest quarantine, ``unmapped_values``);
- ``history``: the ``quality_results`` table in its own DuckDB file under ``HubPaths.reports``;
- ``alerts``: the webhook message when a check turns from pass to fail;
- ``charts`` / ``render``: inline-SVG trend charts and the self-contained HTML page;
- ``report``: one run end to end (``produce_report``), used by the Dagster asset and ``hub quality report``;
- ``assets``: the ``quality_report`` asset, Dagster asset checks and the daily 07:00 schedule.
"""
