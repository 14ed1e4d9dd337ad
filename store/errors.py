"""Store errors, with messages meant for the operator."""
from config.errors import MotcuaError


class StoreError(MotcuaError):
    """A store problem with a message meant for the operator."""


class StoreLockedError(StoreError):
    """Another process holds the DuckDB file for writing."""


class QueryError(StoreError):
    """A named query was asked for by a name the catalog does not hold, or given a parameter it
    cannot use; the message names the query and the parameter."""
