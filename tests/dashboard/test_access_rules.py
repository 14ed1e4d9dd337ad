"""Every operation of the store's ops object, for every role, through the dashboard's ScopedOps on a
real DuckDB store: what a role may not do is refused before anything runs, and what it may do runs.
The operations are found by introspecting the ops classes, so an operation added to them without a
rule in dashboard/access.py OPS_ROLES fails here."""
from __future__ import annotations

import datetime as dt

import pytest

from config.app import load_config
from dashboard.access import OPS_ROLES, AccessDenied, ScopedOps
from dashboard.backend import Backend
from dashboard.users import ROLES, User
from store.ops import RemoteOps
from system import Motcua

END = dt.date(2026, 11, 20)


def _public(obj) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_")}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("access")
    cfg = load_config(environ={"MOTCUA_STORE__PATH": str(tmp / "data" / "motcua.duckdb")})
    app = Motcua(cfg)
    app.demo_data(months=1, per_month=100, end=END)
    overdue = app.query("dossiers_overdue", limit=1000).to_dicts()
    app.close()
    agency = overdue[0]["agency_code"]
    csv = tmp / "upload.csv"
    csv.write_text("dossier_code,agency_code,agency_name,procedure_code,procedure_name,field,channel,received_at,"
                   "time_limit,time_unit,state\n"
                   f"AC-0001,{agency},X,P1,Thủ tục 1,Hộ tịch,online,2026-11-03 09:00,5,working_days,processing\n",
                   encoding="utf-8")
    return {"cfg": cfg, "agency": agency, "csv": csv,
            "mine": [r["dossier_code"] for r in overdue if r["agency_code"] == agency][:3]}


def _ops_names(cfg) -> set[str]:
    remote = RemoteOps("http://127.0.0.1:9", "token")
    try:
        return _public(Motcua(cfg)) | _public(remote) | _public(Backend(cfg))
    finally:
        remote.close()


def test_every_operation_of_the_ops_object_has_a_rule(world):
    names = _ops_names(world["cfg"])
    assert "explain_dossiers" in names and "store_loadtest_run" in names and "demo_data" in names
    missing = sorted(names - set(OPS_ROLES))
    assert not missing, f"operations of the ops object without a rule in dashboard/access.py OPS_ROLES: {missing}"
    stale = sorted(set(OPS_ROLES) - names)
    assert not stale, f"rules for operations the ops object does not have: {stale}"
    for name, roles in OPS_ROLES.items():
        assert set(roles) <= set(ROLES), name
        # an operation some role may use is a method of ScopedOps that applies the rule; any other
        # name reaches __getattr__, which refuses it
        assert bool(roles) == (name in vars(ScopedOps)), name


def _calls(world, scoped: ScopedOps) -> dict:
    """One real call of each operation a role may be given (every one in OPS_ROLES with a role)."""
    codes = world["mine"]
    return {
        "query": lambda: scoped.query("dashboard_status").one(),
        "cfg": lambda: scoped.cfg.store.path,
        "explain_dossiers": lambda: scoped.explain_dossiers(codes, agency=world["agency"]),
        "status": lambda: scoped.status(),
        "import_file": lambda: scoped.import_file(str(world["csv"]), dry_run=True),
        "recompute": lambda: scoped.recompute(),
        "compliance": lambda: scoped.compliance("add_request", agency="Sở Tư pháp", requested_on="2026-11-10",
                                                description=f"yêu cầu của {scoped.user.username}"),
        "status_incident": lambda: scoped.status_incident("open", service="trang-chu"),
    }


def _history(cfg) -> int:
    return len(Backend(cfg).query("compliance_history", limit=100000))


def _runs(cfg) -> int:
    return len(Backend(cfg).query("sla_runs"))


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_for_every_role(world, role):
    cfg = world["cfg"]
    b = Backend(cfg)
    subtree = set(b.query("agency_scope", agency=world["agency"]).column("code"))
    user = User(f"u-{role}", role, agency=world["agency"] if role == "agency" else None)
    scoped = ScopedOps(b, user, lambda c: subtree if c == world["agency"] else {c})
    calls = _calls(world, scoped)
    assert {n for n, roles in OPS_ROLES.items() if roles} == set(calls), "a sample call for each allowed operation"
    history, runs = _history(cfg), _runs(cfg)
    for name in sorted(_ops_names(cfg)):
        if role in OPS_ROLES[name]:
            out = calls[name]()
            assert out is not None, name
        else:
            with pytest.raises(AccessDenied):
                # refused on access (no method here) or at the call, before the backend is asked
                calls.get(name, lambda: getattr(scoped, name)())()
    allowed = {n for n, roles in OPS_ROLES.items() if role in roles}
    # the writes ran exactly when allowed
    assert _runs(cfg) == runs + ("recompute" in allowed)
    assert _history(cfg) == history + ("compliance" in allowed)
    # what the allowed calls answered
    if "explain_dossiers" in allowed:
        assert set(scoped.explain_dossiers(world["mine"], agency=world["agency"])) == set(world["mine"])
    if "import_file" in allowed:
        assert scoped.import_file(str(world["csv"]), dry_run=True)["inserted"] == 1


def test_the_vendor_cannot_explain_dossiers(world):
    """The hole this closes: explanations (deadlines and dates of dossiers) answered a vendor account."""
    b = Backend(world["cfg"])
    vendor = ScopedOps(b, User("v", "vendor"), lambda c: {c})
    with pytest.raises(AccessDenied):
        vendor.explain_dossiers(world["mine"])
    with pytest.raises(AccessDenied):
        vendor.explain_scope(None)       # the dashboard's cached explanations ask this first
    assert vendor.query("probe_latest") is not None   # its own queries still run


def test_anything_else_is_refused(world):
    """Deny by default: an operation the ops object may gain later, the backend behind the
    object, and the backend's generic dispatch are refused for every role."""
    b = Backend(world["cfg"])
    for role in ROLES:
        scoped = ScopedOps(b, User("x", role, agency=world["agency"] if role == "agency" else None), lambda c: {c})
        for name in ("backend", "call", "store", "delete_everything", "store_loadtest_run", "close"):
            with pytest.raises(AccessDenied):
                getattr(scoped, name)
        assert not hasattr(scoped, "__wrapped__")   # Python's protocols still get AttributeError
