"""The month-end forecast block (Tổng quan): for the month under way at the last recompute, the
province's on-time ratio and 766 score as they stand, at best and at worst, and a table per agency
(named query month_forecast; its readings: store/forecast_queries.py). One call places it on a page."""
from __future__ import annotations


import streamlit as st

from dashboard import common
from dashboard.i18n import month_label, num, pct, when

READINGS = ("now", "best", "worst")
PREFIX = {"now": "", "best": "best_", "worst": "worst_"}


def month_forecast_block(level: str | None = None) -> None:
    """The block, for the signed-in user's scope; `level`: only agencies of that level in the table."""
    tr, lng = common.translator(), common.lang()
    with common.guard():
        as_of = common.status().get("last_recompute_as_of")
        if as_of is None:  # nothing recomputed yet: no month under way to forecast
            return
        month = as_of.date().replace(day=1)
        t = common.query("month_forecast", month=month.strftime("%Y-%m"))
        rows = t.to_dicts()
        total = next((r for r in rows if r["row_kind"] == "total"), None)
        if total is None:
            return
        st.subheader(tr("fc_title", m=month_label(month, lng)))
        cards = st.columns(3)
        for col, reading in zip(cards, READINGS):
            p = PREFIX[reading]
            col.metric(tr(f"fc_{reading}"), pct(total[f"{p}on_time_ratio"], lng, 2),
                       tr("fc_score", v=num(total[f"{p}score_766"], lng, 2)), delta_color="off", delta_arrow="off",
                       border=True, help=tr(f"fc_{reading}_help"))
        st.caption(tr("fc_caption", t=when(as_of, lng)))
        agencies = [r for r in rows if r["row_kind"] == "agency" and r["received_total"]
                    and (not level or r["level"] == level)]
        # the agencies with the most dossiers that may still end late first (overdue, or due this month)
        agencies.sort(key=lambda r: (-(r["pending_overdue"] + r["due_in_month"]), r["worst_on_time_ratio"] or 0,
                                     r["name"] or r["key"]))
        if not agencies:
            return
        import pandas as pd

        # the dossiers that may still end late (overdue, or due before the month's end), then the ratios
        # and scores; the other counts stay out (eleven columns did not fit the page's width)
        cols = {"agency": "col_agency", "at_risk": "fc_col_at_risk",
                **{f"{PREFIX[r]}on_time_ratio": f"fc_col_ratio_{r}" for r in READINGS},
                **{f"{PREFIX[r]}score_766": f"fc_col_score_{r}" for r in READINGS}}
        value = {"agency": lambda r: r["name"] or r["key"],
                 "at_risk": lambda r: r["pending_overdue"] + r["due_in_month"]}
        df = pd.DataFrame([{tr(label): value[c](r) if c in value else r[c] for c, label in cols.items()}
                           for r in agencies])
        formats = {tr(f"fc_col_ratio_{r}"): "pct2" for r in READINGS} | {tr(f"fc_col_score_{r}"): "dec2" for r in READINGS}
        common.dataframe(df, formats, hide_index=True, height=min(38 + 35 * len(df), 320), key="fc_table",
                         column_config={tr("fc_col_at_risk"): st.column_config.NumberColumn(help=tr("fc_at_risk_help"))})
