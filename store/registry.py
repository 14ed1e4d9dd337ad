"""Named queries: the only SQL that reads the tables lives in store/, declared here by name.

A query is a function ``fn(con, **params) -> Table`` declared with `named_query`, which states
once what the rest of the system needs to know about it (`NamedQuery`): who may run it, whether
an agency account's `agency` parameter is forced, whether the owner keeps its answers. Callers
(dashboard, reports, CLI) ask the store for it by name, locally or through the owner's API, and
never write SQL themselves. The declaration has no side effect: store/catalog.py collects the
declared queries of the modules it lists, and is the only way to reach them.
"""
from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb

QueryFn = Callable[..., "Table"]

# What a query's answers may show, which decides who may run it:
#   province  dossiers or figures of any agency: only the roles that run every query
#   agency    takes an `agency` parameter: an agency account runs it with that parameter forced to
#             its own agency (or a code inside its subtree)
#   free      no dossiers and no agency figures: may be offered to the limited roles in `roles`
SCOPES = ("province", "agency", "free")
# Roles that run every named query, and those that run only what a query's declaration names.
ALL_QUERY_ROLES = ("leadership", "ict", "admin")
LIMITED_ROLES = ("vendor", "agency")
# "until_write": the owner keeps the answers until the next write (import, recompute, reference
# load) and the day, as the dashboard asks them again and again; "none": asked anew every time.
CACHES = ("none", "until_write")


@dataclass(frozen=True)
class NamedQuery:
    """One named query and what the system needs to know about it (validated when declared)."""

    name: str
    fn: QueryFn
    scope: str = "province"
    roles: tuple[str, ...] = ()     # the limited roles that may run it too
    cache: str = "none"
    scored: bool = False            # has a score_766 column and a score_denominator parameter
    # the parameter names, read once from the signature (every call checks its parameters)
    _params: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_params", tuple(inspect.signature(self.fn).parameters)[1:])
        where = f"named query {self.name!r}"
        if self.scope not in SCOPES:
            raise ValueError(f"{where}: scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        if self.cache not in CACHES:
            raise ValueError(f"{where}: cache must be one of {', '.join(CACHES)}, got {self.cache!r}")
        unknown = [r for r in self.roles if r not in LIMITED_ROLES]
        if unknown or len(set(self.roles)) != len(self.roles):
            raise ValueError(f"{where}: roles must be distinct names among {', '.join(LIMITED_ROLES)}, "
                             f"got {self.roles!r}")
        # a limited role never sees the whole province's dossiers, and a vendor never an agency's
        if self.scope == "province" and self.roles:
            raise ValueError(f"{where}: a province-wide query is for {', '.join(ALL_QUERY_ROLES)} only")
        if self.scope == "agency" and self.roles != ("agency",):
            raise ValueError(f"{where}: an agency-scoped query is the agency role's: roles=('agency',)")
        kinds = {p.kind for p in inspect.signature(self.fn).parameters.values()}
        if kinds & {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}:
            raise ValueError(f"{where}: parameters are named one by one (no *args, **kwargs)")
        params = self.parameters()
        if self.scope == "agency" and "agency" not in params:
            raise ValueError(f"{where}: an agency-scoped query needs an `agency` parameter")
        if self.scored and "score_denominator" not in params:
            raise ValueError(f"{where}: a scored query needs a `score_denominator` parameter")

    def parameters(self) -> list[str]:
        """The query's parameter names (after the connection)."""
        return list(self._params)

    def may_run(self, role: str) -> bool:
        return role in ALL_QUERY_ROLES or role in self.roles


def named_query(name: str, *, scope: str = "province", roles: Sequence[str] = (), cache: str = "none",
                scored: bool = False) -> Callable[[QueryFn], QueryFn]:
    """Declare `fn` the named query `name` (see NamedQuery); the function itself is unchanged. An
    agency-scoped query is the agency role's without saying so."""
    if scope == "agency" and not roles:
        roles = ("agency",)

    def declare(fn: QueryFn) -> QueryFn:
        fn.query_declaration = NamedQuery(name, fn, scope, tuple(roles), cache, scored)  # type: ignore[attr-defined]
        return fn

    return declare


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
