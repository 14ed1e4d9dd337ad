"""Who sees what, enforced where the data is fetched (not only by hiding pages).

`ScopedOps` wraps the store's operations (a `Backend`) for one signed-in user:
- each role runs the named queries their declarations offer it (store/catalog.py); anything
  else is refused;
- an agency account only ever asks for its own agency's subtree: the `agency` parameter of every
  query it runs is forced to its agency (or checked to lie inside its subtree), queries without
  an agency scope that list dossiers are refused, and explanations are limited the same way;
- imports, recomputes and changes to the compliance register are for the ict and admin roles; a
  change to the register is one of COMPLIANCE_ACTIONS (append-only), made in the account's name;
- changes to the public status page's incidents are the admin role's, one of INCIDENT_ACTIONS,
  made in the account's name;
- every operation of the store's ops object (system.Motcua, store.ops.RemoteOps, the dashboard's
  Backend) has a rule in OPS_ROLES naming the roles that may call it through ScopedOps; anything
  without a rule, or not offered to the account's role, is refused (deny by default, including
  operations added to the ops object later).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dashboard.pages import DECLARED
from dashboard.users import ROLES, User
from store import catalog
from store.registry import ALL_QUERY_ROLES

# The pages in the navigation's order and who may open each, as each page declares itself
# (dashboard/pages/): a page nobody is named for, or a name that is no page, is refused.
PAGES = tuple(p.id for p in DECLARED)
PAGE_ROLES: dict[str, tuple[str, ...]] = {p.id: p.roles for p in DECLARED}
WRITE_ROLES = ("ict", "admin")
# The compliance register's changes the dashboard offers (compliance/actions.py): each appends one
# event to the history; none edits or deletes. The actor is always the signed-in account.
COMPLIANCE_ACTIONS = frozenset({"add_request", "answer_request", "attach_check", "attach_file", "resolve_request"})
# The status page's incident changes (statuspage/incidents.py): each appends one row to the
# incident's history, in the account's name.
INCIDENT_ACTIONS = frozenset({"open", "post", "edit", "resolve"})


def may_run(role: str, query: str) -> bool:
    """Whether `role` may run the named query, as its declaration says (store/catalog.py): the
    roles that run every query may also ask for an unknown name (the store then says it is
    unknown); any other role only what the declaration names."""
    declared = catalog.find(query)
    if declared is None:
        return role in ALL_QUERY_ROLES
    return declared.may_run(role)


def agency_forced(query: str) -> bool:
    """Whether an agency account runs `query` with its `agency` parameter forced to its own (the
    monthly briefing of an agency, reports/briefing/, gives it: forced like the rest)."""
    declared = catalog.find(query)
    return declared is not None and declared.scope == "agency"


# Every public name of the ops object (system.Motcua, store.ops.RemoteOps, dashboard.backend.Backend)
# with the roles that may use it through ScopedOps. An empty tuple: never from the dashboard.
# tests/dashboard/test_access_rules.py introspects those classes: a new operation without a rule here fails it.
ALL_ROLES = tuple(ROLES)
OPS_ROLES: dict[str, tuple[str, ...]] = {
    "query": ALL_ROLES,                                     # each query then by may_run
    "cfg": ALL_ROLES,                                       # compliance.register.criteria_for reads the criteria file
    "explain_dossiers": ("leadership", "ict", "agency", "admin"),   # the agency page's explanations
    "status": ("leadership", "ict", "admin"),               # the province's store counts
    "import_file": WRITE_ROLES,
    "recompute": WRITE_ROLES,
    "compliance": WRITE_ROLES,
    "status_incident": ("admin",),                          # what citizens read on the status page
    # never through the dashboard: load-test runs are stored by `app.py loadtest`; the backend is
    # shared by every session (closing it, or dispatching by name, would bypass these rules); the
    # composition root's parts and jobs belong to the owning process
    "store_loadtest_run": (), "close": (), "call": (), "mode": (), "remote": (), "local_store": (), "prewarm": (),
    "store": (), "engine": (), "mapping": (), "slo_evaluator": (), "alerter": (), "briefing_job": (), "digest_job": (),
    "evaluate_alerts": (), "now": (), "prewarm_dashboard": (), "start_prewarm": (), "load_reference": (),
    "demo_data": (), "is_empty": (), "status_page": (), "incident_keeper": (), "keep_incidents": (),
    "backup": (), "export_data": (), "backup_job": (),  # `app.py backup`, `export-data`
    "figures_at": (),                                       # `app.py report --as-of` alone
    "import_dirs": (), "log_path": (), "timeout": (),       # the store client's own settings
}


class AccessDenied(Exception):
    """The signed-in account may not see this; the message says so in the user's language."""


def can_see(user: User, page: str) -> bool:
    return user.role in PAGE_ROLES.get(page, ())


def pages_for(user: User) -> list[str]:
    return [p for p in PAGES if can_see(user, p)]


class ScopedOps:
    """The operations one user may perform, with the agency scope applied to every call.

    Each operation first asks `_allow` (OPS_ROLES); any other attribute is refused by
    `__getattr__`, so an operation the ops object gains later is denied until it has a rule and a
    method here. The backend itself is kept private: a page cannot reach it through this object."""

    def __init__(self, backend: Any, user: User, subtree: Callable[[str], set[str]]) -> None:
        self._backend = backend
        self.user = user
        self._subtree = subtree   # agency code -> codes of its subtree (itself included)

    def __getattr__(self, name: str) -> Any:
        # only reached for names this class does not define
        if name.startswith("__"):
            raise AttributeError(name)  # Python's protocols (copy, pickle) ask for these
        role = getattr(self.__dict__.get("user"), "role", "?")
        raise AccessDenied(f"{name} is not offered through the dashboard to the {role} role")

    def _allow(self, op: str) -> None:
        if self.user.role not in OPS_ROLES.get(op, ()):
            raise AccessDenied(f"{op} is not available to the {self.user.role} role")

    def _agency(self, requested: str | None) -> str | None:
        if self.user.role != "agency":
            return requested
        own = self.user.agency
        if requested in (None, "", own):
            return own
        if requested in self._subtree(own):
            return requested
        raise AccessDenied(f"agency {requested} is outside the account's agency {own}")

    def scoped_params(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """The parameters this user's query really runs with (raises AccessDenied)."""
        self._allow("query")
        if not may_run(self.user.role, name):
            raise AccessDenied(f"query {name} is not available to the {self.user.role} role")
        params = dict(params)
        if self.user.role == "agency" and agency_forced(name):
            params["agency"] = self._agency(params.get("agency"))
        return params

    def query(self, name: str, **params: Any):
        return self._backend.query(name, **self.scoped_params(name, params))

    def explain_scope(self, agency: str | None) -> str | None:
        """The agency an explanation runs with (raises AccessDenied): for callers that cache the
        backend's answer themselves (dashboard/common.explain)."""
        self._allow("explain_dossiers")
        return self._agency(agency)

    def explain_dossiers(self, codes: list[str], agency: str | None = None, lang: str = "vi") -> dict[str, Any]:
        return self._backend.explain_dossiers(codes, agency=self.explain_scope(agency), lang=lang)

    def status(self) -> dict[str, Any]:
        self._allow("status")
        return self._backend.status()

    def import_file(self, path: str, events_path: str | None = None, dry_run: bool = False,
                    lang: str = "en") -> dict[str, Any]:
        self._allow("import_file")
        return self._backend.import_file(path, events_path, dry_run=dry_run, lang=lang)

    def recompute(self, full: bool = True) -> dict[str, Any]:
        self._allow("recompute")
        return self._backend.recompute(full=full)

    @property
    def cfg(self):
        """The configuration (compliance.register.criteria_for reads the configured criteria file from it)."""
        self._allow("cfg")
        return getattr(self._backend, "cfg", None)

    def compliance(self, action: str, **params: Any) -> dict[str, Any]:
        """One append-only change to the compliance register, in this account's name."""
        self._allow("compliance")
        if action not in COMPLIANCE_ACTIONS:
            raise AccessDenied(f"the dashboard does not offer the compliance action {action!r}")
        if "actor" in params or "via" in params:
            raise AccessDenied("the actor of a change is the signed-in account")
        return self._backend.compliance(action, actor=self.user.username, via="dashboard", **params)

    def status_incident(self, action: str, **params: Any) -> dict[str, Any]:
        """One change to the status page's incidents, in this account's name (admin only)."""
        self._allow("status_incident")
        if action not in INCIDENT_ACTIONS:
            raise AccessDenied(f"the dashboard does not offer the incident action {action!r}")
        if "actor" in params or "via" in params:
            raise AccessDenied("the actor of a change is the signed-in account")
        return self._backend.status_incident(action, actor=self.user.username, via="dashboard", **params)
