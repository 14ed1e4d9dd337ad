"""Named queries: the only SQL that reads the tables lives in store/, registered here by name.

A query is a function ``fn(con, **params) -> Table``. Callers (dashboard, reports, CLI) ask the
store for it by name, locally or through the owner's API, and never write SQL themselves.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb

QueryFn = Callable[..., "Table"]
QUERIES: dict[str, QueryFn] = {}


def named_query(name: str) -> Callable[[QueryFn], QueryFn]:
    def register(fn: QueryFn) -> QueryFn:
        if name in QUERIES and QUERIES[name] is not fn:
            raise ValueError(f"named query {name!r} registered twice")
        QUERIES[name] = fn
        return fn

    return register


@dataclass
class Table:
    """A small, transport-friendly result: column names, DuckDB type names and row tuples."""

    columns: list[str]
    rows: list[tuple]
    types: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.to_dicts())

    def to_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r)) for r in self.rows]

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [r[i] for r in self.rows]

    def one(self) -> dict[str, Any] | None:
        return dict(zip(self.columns, self.rows[0])) if self.rows else None

    # -- JSON transport (owner API) --------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "types": self.types, "rows": [[_enc(v) for v in r] for r in self.rows]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Table":
        types = data.get("types") or [""] * len(data["columns"])
        rows = [tuple(_dec(v, t) for v, t in zip(r, types)) for r in data["rows"]]
        return cls(list(data["columns"]), rows, list(types))


def run(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Table:
    """Execute SQL on a store connection and return a Table."""
    rel = con.execute(sql, params) if params is not None else con.execute(sql)
    desc = rel.description or []
    cols = [d[0] for d in desc]
    types = [str(d[1]) for d in desc]
    return Table(cols, rel.fetchall(), types)


def _enc(v: Any) -> Any:
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, (list, tuple)):
        return [_enc(x) for x in v]
    return v


def _dec(v: Any, t: str) -> Any:
    if v is None:
        return None
    t = t.upper()
    if t.startswith("TIMESTAMP"):
        return dt.datetime.fromisoformat(v)
    if t == "DATE":
        return dt.date.fromisoformat(v)
    if t == "INTERVAL":
        return dt.timedelta(seconds=v)
    return v
