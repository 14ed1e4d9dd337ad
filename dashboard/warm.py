"""The named queries of the leadership page's default view (and of the agency page's default
agency), shared by the owner's prewarm after each recompute and the dashboard benchmark. Keep in
step with pages/overview.py and pages/agency.py."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


def default_month_index(months: list, as_of) -> int:
    """The current month, or the last complete one during a month's first week."""
    if len(months) > 1 and as_of is not None and months[0] == as_of.date().replace(day=1) and as_of.day < 8:
        return 1
    return 0


def overview_queries(query: Callable[..., Any], month: str | None = None,
                     level: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    status = query("dashboard_status").one() or {}
    out: list[tuple[str, dict[str, Any]]] = [("dashboard_status", {}), ("dashboard_months", {})]
    as_of = status.get("last_recompute_as_of")
    if as_of is not None:  # the month-end forecast block: the month under way (dashboard/forecast.py)
        out.append(("month_forecast", {"month": as_of.strftime("%Y-%m")}))
    if month is None:
        months = query("dashboard_months").column("month")
        if not months:
            return out
        month = months[default_month_index(months, status.get("last_recompute_as_of"))].strftime("%Y-%m")
    return out + [("province_month_series", {"months": 13, "end_month": month}),
                  ("agency_ratio_month", {"month": month, "limit": 200, "level": level, "worst_first": True}),
                  ("province_month_series", {"months": 12, "end_month": month}),
                  ("audit_by_agency", {"month": month}),
                  ("sync_by_agency", {"month": month}),
                  # the 766 block (dashboard/index766.py) with the shipped rules file: the twelve months'
                  # rank scans the dossiers, the slowest answer of the page
                  ("index766", {"month": month}),
                  ("index766_rank", {"end_month": month, "months": 12, "level": level})]


def agency_default_queries(query: Callable[..., Any], month: str) -> list[tuple[str, dict[str, Any]]]:
    """The agency page as leadership first sees it: the agency with the lowest on-time ratio."""
    worst = query("agency_ratio_month", month=month, limit=1, rollup=False)
    out: list[tuple[str, dict[str, Any]]] = [("agency_scope", {"agency": None}),
                                             ("agency_ratio_month", {"month": month, "limit": 1, "rollup": False})]
    if worst.rows:
        agency = worst.rows[0][0]
        out += [("bieu06", {"month": month, "by": "procedure", "agency": agency}),
                ("dossiers_overdue", {"agency": agency, "month": month, "limit": 500}),
                ("audit_by_agency", {"month": month, "agency": agency}),
                ("audit_findings", {"agency": agency, "month": month, "limit": 500})]
    return out
