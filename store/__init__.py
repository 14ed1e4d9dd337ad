# Every named query registers itself on import, and store/queries.py adds what a recompute derives
# (store.sla.AFTER_RECOMPUTE): importing any part of the store imports them all.
import store.queries  # noqa: F401
import store.compliance_queries  # noqa: F401  (the compliance register's named queries register themselves)
