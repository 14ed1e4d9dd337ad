"""The catalog of named queries (store/catalog.py): each query declared once with what the rest
of the system reads about it (who may run it, the agency scope, the owner's cache, the 766 score),
validated when declared."""
from __future__ import annotations

import inspect

import pytest

from dashboard.access import agency_forced, may_run
from dashboard.users import ROLES
from store import catalog
from store.errors import QueryError
from store.registry import ALL_QUERY_ROLES, LIMITED_ROLES, NamedQuery, Table, named_query


def test_the_catalog_holds_every_declared_query_of_its_modules():
    assert dict(catalog.QUERIES) == catalog.collect(catalog.MODULES)
    assert {"bieu06", "audit_by_agency", "probe_summary", "loadtest_runs", "probe_month_summary",
            "compliance_history", "agencies_current", "dashboard_status"} <= set(catalog.QUERIES)
    for name, q in catalog.QUERIES.items():
        assert q.name == name and q.fn.query_declaration is q


def test_the_roles_of_the_declarations_are_the_dashboards():
    assert set(ALL_QUERY_ROLES) | set(LIMITED_ROLES) == set(ROLES)
    assert not set(ALL_QUERY_ROLES) & set(LIMITED_ROLES)


def test_what_the_limited_roles_may_run():
    for name, q in catalog.QUERIES.items():
        for role in ALL_QUERY_ROLES:
            assert may_run(role, name)
        # the vendor never reads dossiers; an agency account reads them only within its own agency
        if may_run("vendor", name):
            assert q.scope == "free", name
        if may_run("agency", name):
            assert q.scope in ("agency", "free"), name
        assert agency_forced(name) == (q.scope == "agency")
        if q.scope == "agency":
            assert may_run("agency", name) and not may_run("vendor", name)
            assert "agency" in inspect.signature(q.fn).parameters
    assert may_run("admin", "no_such_query") and not may_run("vendor", "no_such_query")
    assert not may_run("agency", "no_such_query") and not may_run("someone", "bieu06")
    assert may_run("agency", "bieu06") and agency_forced("bieu06") and not may_run("vendor", "bieu06")
    assert may_run("vendor", "dashboard_status") and may_run("agency", "dashboard_status")
    assert may_run("agency", "probe_month_summary") and not may_run("vendor", "probe_month_summary")
    assert not may_run("agency", "probe_summary") and may_run("vendor", "probe_summary")
    assert not may_run("agency", "store_stats") and not may_run("vendor", "store_stats")


def test_kept_and_scored_queries():
    cached = {n for n, q in catalog.QUERIES.items() if q.cache == "until_write"}
    assert {"bieu06", "dashboard_status", "store_stats", "agencies_current"} <= cached
    # probe results and load tests change all the time; the audit's findings are always counted anew
    assert not {n for n in cached if n.startswith(("probe", "loadtest", "compliance", "alert"))}
    assert "audit_findings" not in cached and "figures_provenance" not in cached
    scored = {n for n, q in catalog.QUERIES.items() if q.scored}
    assert scored == {"bieu06", "agency_ratio_month", "province_month_series", "province_month", "month_forecast",
                      "index766", "index766_losses", "index766_rank", "index766_due_soon_gain"}


def _q(con, agency=None, month=None) -> Table:
    return Table([], [])


@pytest.mark.parametrize("kw, message", [
    ({"scope": "city"}, "scope must be one of"),
    ({"cache": "forever"}, "cache must be one of"),
    ({"scope": "free", "roles": ("citizen",)}, "roles must be distinct names"),
    ({"scope": "free", "roles": ("vendor", "vendor")}, "roles must be distinct names"),
    ({"roles": ("vendor",)}, "province-wide query is for"),
    ({"scope": "agency", "roles": ("vendor",)}, "agency-scoped query is the agency role's"),
    ({"scored": True}, "needs a `score_denominator` parameter"),
])
def test_a_wrong_declaration_is_refused_when_made(kw, message):
    with pytest.raises(ValueError, match=message):
        named_query("x", **kw)(_q)


def test_declaration_needs_the_parameters_it_promises():
    with pytest.raises(ValueError, match="needs an `agency` parameter"):
        named_query("x", scope="agency")(lambda con, month=None: Table([], []))
    with pytest.raises(ValueError, match="named one by one"):
        named_query("x")(lambda con, **params: Table([], []))
    q = named_query("x", scope="agency")(_q).query_declaration
    assert isinstance(q, NamedQuery) and q.roles == ("agency",) and q.parameters() == ["agency", "month"]


def test_the_one_executor_names_what_is_wrong():
    with pytest.raises(QueryError, match="unknown query 'nope'; known: .*bieu06"):
        catalog.run_query(None, "nope")
    with pytest.raises(QueryError, match="query 'dossier_events' has no parameter month; its parameters: code"):
        catalog.run_query(None, "dossier_events", code="x", month="2026-01")
