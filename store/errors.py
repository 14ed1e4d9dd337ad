"""Store errors, with messages meant for the operator."""


class StoreError(Exception):
    """A store problem with a message meant for the operator."""


class StoreLockedError(StoreError):
    """Another process holds the DuckDB file for writing."""
