"""The catalog of named queries: every module that declares some is listed here, and this is the
only way to reach them (by name, with what their declaration says: store/registry.py NamedQuery).

A module of named queries added to the store is added to MODULES, nowhere else. `run_query` is
the one executor: the local store (store/db.py), a write's own transaction (compliance/actions.py)
and the owner's API all run a query through it.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import duckdb

import store.compliance_queries
import store.dashboard_queries
import store.due_soon_queries
import store.forecast_queries
import store.index766_queries
import store.loadtest_queries
import store.probe_queries
import store.queries
import store.reference
import store.report_queries
import store.slo_queries
import store.status_queries
from store.errors import QueryError
from store.registry import NamedQuery, Table

MODULES = (
    store.queries,              # Biểu 06, rankings, audit, sync, lists, provenance
    store.reference,            # agencies and procedures
    store.dashboard_queries,    # the dashboard's status, scope, explanations, probe views, alerts
    store.probe_queries,        # raw probe results and rollups
    store.slo_queries,          # SLO windows and slowdown baselines
    store.loadtest_queries,     # load-test runs
    store.report_queries,       # the monthly briefing's probe figures
    store.compliance_queries,   # the compliance register
    store.due_soon_queries,     # dossiers due soon: working time left to their deadlines
    store.forecast_queries,     # the month-end forecast
    store.index766_queries,     # the 766 scorecard's estimate
    store.status_queries,       # the public status page: services' probes, incidents
)


def collect(modules: Iterable[Any]) -> dict[str, NamedQuery]:
    """The named queries declared in `modules`, by name; a name declared twice is refused."""
    out: dict[str, NamedQuery] = {}
    for module in modules:
        for value in vars(module).values():
            q = getattr(value, "query_declaration", None)
            if not isinstance(q, NamedQuery) or q.fn is not value:
                continue
            if q.name in out and out[q.name].fn is not value:
                raise ValueError(f"named query {q.name!r} declared twice")
            out[q.name] = q
    return out


# Read-only: nobody can swap a query for another (one that writes) once the store is up.
QUERIES: Mapping[str, NamedQuery] = MappingProxyType(collect(MODULES))


def find(name: str) -> NamedQuery | None:
    return QUERIES.get(name)


def get(name: str) -> NamedQuery:
    q = QUERIES.get(name)
    if q is None:
        raise QueryError(f"unknown query {name!r}; known: {', '.join(sorted(QUERIES))}")
    return q


def run_query(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> Table:
    """Run the named query on `con` (a cursor, inside its transaction if any). An unknown name or
    parameter is a QueryError that lists the known ones."""
    q = get(name)
    known = q.parameters()
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise QueryError(f"query {name!r} has no parameter {', '.join(unknown)}; "
                         f"its parameters: {', '.join(known) or '(none)'}")
    return q.fn(con, **params)
