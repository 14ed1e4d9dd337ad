"""The leadership page's named queries for its default view, shared by the page's prewarm in the
owner (after each recompute) and the dashboard benchmark. Keep in step with pages/overview.py."""
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
    if month is None:
        months = query("dashboard_months").column("month")
        if not months:
            return out
        month = months[default_month_index(months, status.get("last_recompute_as_of"))].strftime("%Y-%m")
    return out + [("province_month_series", {"months": 13, "end_month": month}),
                  ("agency_ratio_month", {"month": month, "limit": 200, "level": level, "worst_first": True}),
                  ("province_month_series", {"months": 12, "end_month": month}),
                  ("audit_by_agency", {"month": month}),
                  ("sync_by_agency", {"month": month})]
