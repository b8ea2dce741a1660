"""What every part of the hub shares, once: paths, the version pointer, SQL quoting and guard, the town reference.

Imports nothing of the project outside ``hub.core``, and neither Dagster, dbt nor Litestar.
"""
