import store.compliance_queries  # noqa: F401  (the compliance register's named queries register themselves)
