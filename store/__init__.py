"""The DuckDB store: the file and its migrations (db), the recompute (sla), the named queries
(catalog), the writes, and the seam callers reach it through (ops: locally or via the owner's API)."""
