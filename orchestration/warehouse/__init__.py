"""The warehouse on a PostgreSQL server: the raw layer's bulk copy (``postgres``) and the versioned publish
(``serving``). Which engine is chosen: ``hub.core.warehouse.Warehouse``."""
