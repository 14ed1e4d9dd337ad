"""Tổng quan (leadership): the province's on-time ratio this month against last month and the same
month last year, the 766 score, agencies worst first, the 12-month trend, the dossiers due soon, the 766
scorecard's estimate with each agency's rank over twelve months, the vendor's overdue
figures against the recomputed ones (and what the deadline engine found odd in them), unsynced
dossiers. Filters: period and agency level."""
from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import streamlit as st

from dashboard import common, due_soon, index766
from dashboard.forecast import month_forecast_block
from dashboard.i18n import FINDINGS, NBSP, month_label, num, pct
from dashboard.pages import Page

PAGE = Page(id="overview", roles=("leadership", "ict", "admin"), title_key="page_overview",
            icon=":material/insights:", url="tong-quan")

tr, L = common.translator(), common.lang()
common.require_page(PAGE.id)


PCT = NBSP + "%" if L == "vi" else "%"


def _fit(values, lo: float, hi: float, pad: float) -> list[float]:
    """An axis range around the values (within [lo, hi]), so small changes show."""
    vs = [v for v in values if v is not None]
    if not vs:
        return [lo, hi]
    a, b = min(vs), max(vs)
    span = max(b - a, 4 * pad)
    return [max(lo, a - span * 0.25 - pad), min(hi + pad, b + span * 0.25 + pad)]


def _shift(m: dt.date, months: int) -> dt.date:
    y, mo = divmod(m.year * 12 + m.month - 1 + months, 12)
    return dt.date(y, mo + 1, 1)


ready = False
with common.guard():
    s = common.require_data()
    common.page_header("ov_title", s)
    ms = common.months()
    if not ms:
        st.info(tr("no_data"))
        raise common.PageStop()
    levels = ["", "department", "commune", "district", "province", "unit"]
    c1, c2, _ = st.columns([1, 1, 2])
    month = c1.selectbox(tr("period"), ms, index=common.default_month(ms, s), format_func=lambda m: month_label(m, L),
                         key="ov_month")
    level = c2.selectbox(tr("agency_level"), levels, key="ov_level",
                         format_func=lambda v: tr("all_levels") if not v else tr(f"level_{v}"))
    m_key = month.strftime("%Y-%m")
    series = common.query("province_month_series", months=13, end_month=m_key)
    by_month = {r["month"]: r for r in series}
    cur, prev, last_year = by_month.get(month, {}), by_month.get(_shift(month, -1), {}), by_month.get(_shift(month, -12), {})

    def _delta(a, b):
        if a.get("on_time_ratio") is None or b.get("on_time_ratio") is None:
            return None
        d = 100 * (a["on_time_ratio"] - b["on_time_ratio"])
        return ("+" if d >= 0 else "") + num(d, L, 1) + " " + tr("ov_vs_last")

    # The headline row: this month, last month, the 766 score; the same month last year only when
    # there are figures for it (an empty card must not take a headline place), else a line below.
    has_last_year = last_year.get("on_time_ratio") is not None
    k = st.columns(4)
    k[0].metric(tr("ov_on_time", m=month_label(month, L)), pct(cur.get("on_time_ratio"), L), _delta(cur, prev),
                border=True, help=tr("ov_vs_last_help"))
    k[1].metric(tr("ov_last_month", m=month_label(_shift(month, -1), L)), pct(prev.get("on_time_ratio"), L),
                border=True)
    k[2].metric(tr("ov_score"), num(cur.get("score_766"), L, 2), border=True)
    k[3].metric(tr("ov_pending_overdue"), num(cur.get("pending_overdue"), L), border=True)
    k = st.columns(4)
    k[0].metric(tr("ov_received"), num(cur.get("received_total"), L), border=True)
    k[1].metric(tr("ov_resolved"), num(cur.get("resolved_total"), L), border=True)
    if has_last_year:
        k[2].metric(tr("ov_last_year", m=month_label(_shift(month, -12), L)), pct(last_year.get("on_time_ratio"), L),
                    _delta(cur, last_year), border=True)
    else:
        st.caption(tr("ov_no_last_year", m=month_label(_shift(month, -12), L)))
    if month == ms[0]:
        st.caption(tr("ov_period_note"))
    ready = True
if not ready:
    st.stop()

month_forecast_block(level or None)

ranked = None
left, right = st.columns([1.1, 1])
with left, common.guard():
    st.subheader(tr("ov_ranking"))
    rank = common.query("agency_ratio_month", month=m_key, limit=200, level=level or None, worst_first=True)
    if not rank.rows:
        st.info(tr("no_data"))
    else:
        top = rank.to_dicts()[:15][::-1]
        ratios = [100 * (r["on_time_ratio"] or 0) for r in top]
        # A bar's length is its ratio: the axis starts at 0 (a squeezed 70–90 axis cut bars and
        # their labels); the labels stand outside the bars, with room up to 100 % and beyond.
        fig = go.Figure(go.Bar(
            x=ratios, y=[common.wrap(r["agency_name"] or r["agency_code"]) for r in top], orientation="h",
            marker_color=["#c0392b" if v < 90 else "#e67e22" if v < 95 else "#27ae60" for v in ratios],
            text=[pct(r["on_time_ratio"], L) for r in top], textposition="outside", cliponaxis=False,
            customdata=[pct(r["on_time_ratio"], L) for r in top],
            hovertemplate="%{y}: %{customdata}<extra></extra>"))
        fig.update_layout(height=max(360, 34 * len(top) + 90), bargap=0.25,
                          xaxis=dict(range=[0, 130], tickvals=[0, 20, 40, 60, 80, 100], title=tr("series_on_time")),
                          yaxis=dict(automargin=True, tickfont=dict(size=12)))
        common.chart(fig, key="ov_rank_chart")
        ranked = type(rank)(rank.columns, [tuple(tr(f"level_{v}") if c == "level" and v else v
                                                 for c, v in zip(rank.columns, r)) for r in rank.rows], rank.types)

with right, common.guard():
    st.subheader(tr("ov_trend"))
    trend = common.query("province_month_series", months=12, end_month=m_key)
    xs = [month_label(r["month"], L, short=True) for r in trend]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=[None if r["on_time_ratio"] is None else 100 * r["on_time_ratio"] for r in trend],
                             name=tr("series_on_time"), mode="lines+markers", line=dict(color="#1f5fa8", width=3),
                             customdata=[pct(r["on_time_ratio"], L) for r in trend],
                             hovertemplate="%{x}: %{customdata}<extra></extra>"))
    fig.add_trace(go.Scatter(x=xs, y=[r["score_766"] for r in trend], name=tr("series_score"), yaxis="y2",
                             mode="lines+markers", line=dict(color="#e67e22", dash="dot"),
                             hovertemplate="%{x}: %{y:.2f}<extra></extra>"))
    # The axes fit the figures: a 92–95 % trend drawn on 0–100 is a flat line.
    fig.update_layout(height=330, xaxis=dict(tickangle=-45, type="category"),
                      yaxis=dict(title=tr("series_on_time"), range=_fit([r["on_time_ratio"] and 100 * r["on_time_ratio"]
                                                                         for r in trend], 0, 100, 2),
                                 ticksuffix=PCT),
                      yaxis2=dict(title=tr("series_score"), overlaying="y", side="right", showgrid=False,
                                  range=_fit([r["score_766"] for r in trend], 0, 20, 0.5), tickmode="auto",
                                  nticks=5, tickformat=".1f"))
    common.chart(fig, key="ov_trend_chart")

# the ranking's table across the page: in the chart's column its last columns were cut off
if ranked is not None:
    with common.guard():
        common.dataframe(common.frame(ranked, {"agency_name": "col_agency", "level": "col_level",
                                               "resolved_total": "col_resolved", "resolved_overdue": "col_overdue",
                                               "pending_overdue": "col_pending_overdue", "on_time_ratio": "col_on_time",
                                               "score_766": "col_score"}),
                         {tr("col_on_time"): "pct", tr("col_score"): "dec2"},
                         hide_index=True, height=300, key="ov_rank_table")

with common.guard():
    due_soon.overview_section()

with common.guard():
    index766.overview_block(month, level or None)

with common.guard():
    # Its own full-width row: in the trend's narrow column the cards' labels were cut ("NCC báo q…").
    st.subheader(tr("ov_vendor_gap"))
    audit = common.query("audit_by_agency", month=m_key)
    total = next((r for r in audit if r["row_kind"] == "total"), {})
    cards, chart_col = st.columns([1, 2.2])
    with cards:
        st.metric(tr("ov_vendor_overdue"), num(total.get("reported_overdue"), L), border=True)
        st.metric(tr("ov_recomputed_overdue"), num(total.get("recomputed_overdue"), L), border=True)
        st.metric(tr("ov_gap"), num(total.get("reported_overdue_resolved_on_time"), L), border=True)
    found = [f"{tr(f'finding_{n}')}: {num(total[n], L)}" for n in FINDINGS if total.get(n)]
    worst = sorted((r for r in audit if r["row_kind"] == "agency" and r["overdue_difference"]),
                   key=lambda r: -abs(r["overdue_difference"]))[:10]
    with chart_col:
        if worst:
            fig = go.Figure()
            names = [common.wrap(r["agency_name"] or r["agency_code"]) for r in worst][::-1]
            fig.add_trace(go.Bar(y=names, x=[r["reported_overdue"] for r in worst][::-1], orientation="h",
                                 name=tr("ov_vendor_overdue"), marker_color="#c0392b"))
            fig.add_trace(go.Bar(y=names, x=[r["recomputed_overdue"] for r in worst][::-1], orientation="h",
                                 name=tr("ov_recomputed_overdue"), marker_color="#1f5fa8"))
            fig.update_layout(height=380, barmode="group", xaxis=dict(title=tr("ov_dossiers"), rangemode="tozero",
                                                                      tickformat=",d"),
                              yaxis=dict(automargin=True))
            common.chart(fig, key="ov_gap_chart", legend_y=1.08)
    if found:
        st.caption(tr("ov_findings", items=" · ".join(found)))

with common.guard():
    st.subheader(tr("ov_unsynced"))
    sync = common.query("sync_by_agency", month=m_key)
    total = next((r for r in sync if r["row_kind"] == "total"), {})
    per_source = [r for r in sync if r["row_kind"] == "source_system"]
    k = st.columns(1 + max(1, len(per_source)))
    k[0].metric(tr("ov_unsynced_n", m=month_label(month, L)), num(total.get("unsynced"), L), border=True,
                help=f"{pct(total.get('unsynced_ratio'), L, 2)} / {num(total.get('resolved'), L)} {tr('col_resolved_n').lower()}")
    for col, r in zip(k[1:], per_source):
        col.metric(f"{tr('col_source')} {r['source_system'] or '?'}", num(r["unsynced"], L), border=True,
                   help=f"{pct(r['unsynced_ratio'], L, 2)} / {num(r['resolved'], L)} {tr('col_resolved_n').lower()}")
    rows = [r for r in sync if r["row_kind"] == "agency" and r["unsynced"]]
    if rows:
        import pandas as pd

        common.dataframe(pd.DataFrame([{tr("col_agency"): r["agency_name"] or r["agency_code"],
                                    tr("col_source"): r["source_system"], tr("col_resolved_n"): r["resolved"],
                                    tr("col_unsynced"): r["unsynced"], tr("col_never_synced"): r["never_synced"],
                                    tr("col_synced_early"): r["synced_before_resolution"],
                                        tr("col_status_differs"): r["status_differs"]} for r in rows]),
                         hide_index=True, key="ov_sync_table")
