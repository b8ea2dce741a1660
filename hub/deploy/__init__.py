"""The local production deployment (`hub deploy up`): PostgreSQL, the Dagster code server, daemon and
webserver as separate processes from a workspace.yaml, and the API."""
