"""Cơ quan: one agency's procedures for a month, where its 766 progress points go, its dossiers due soon,
and its overdue and pending-overdue dossiers,
each with the SLA engine's explanation, downloadable as CSV; then what the engine found odd in the
vendor's facts of the agency's dossiers (counts and the dossiers). An agency account sees only its
own agency (and its sub-units): the scope is applied to every query (dashboard/access.py)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from config.cells import csv_bytes
from dashboard import common, due_soon, index766
from dashboard.i18n import FINDINGS, day, month_label, num, pct, when
from dashboard.pages import Page

PAGE = Page(id="agency", roles=("leadership", "ict", "agency", "admin"), title_key="page_agency",
            icon=":material/account_balance:", url="co-quan")

tr, L = common.translator(), common.lang()
u = common.require_page(PAGE.id)

ready = False
with common.guard():
    s = common.require_data()
    common.page_header("ag_title", s)
    scope = common.query("agency_scope", agency=u.agency if u.role == "agency" else None).to_dicts()
    ms = common.months()
    if not scope or not ms:
        st.info(tr("no_data"))
        raise common.PageStop()
    c1, c2 = st.columns([2, 1])
    names = {r["code"]: ("\u2003" * int(r["rel_depth"] or 0)) + (r["name"] or r["code"]) for r in scope}
    codes = list(names)
    ms_default = common.default_month(ms, s)
    default = 0
    if u.role != "agency":  # the agency with the most overdue dossiers that month
        worst = common.query("agency_ratio_month", month=ms[ms_default].strftime("%Y-%m"), limit=1, rollup=False)
        code = worst.rows[0][0] if worst.rows else None
        default = codes.index(code) if code in codes else 0
    agency = c1.selectbox(tr("ag_choose"), codes, index=default, format_func=lambda c: f"{names[c].strip()} ({c})",
                          key="ag_agency")
    month = c2.selectbox(tr("period"), ms, index=ms_default, format_func=lambda m: month_label(m, L),
                         key="ag_month")
    m_key = month.strftime("%Y-%m")
    ready = True
if not ready:
    st.stop()

with common.guard():
    b = common.query("bieu06", month=m_key, by="procedure", agency=agency)
    total = next((r for r in b if r["row_kind"] == "total"), {})
    k = st.columns(5)
    k[0].metric(tr("col_received"), num(total.get("received_total"), L), border=True)
    k[1].metric(tr("col_resolved"), num(total.get("resolved_total"), L), border=True)
    k[2].metric(tr("col_on_time"), pct(total.get("on_time_ratio"), L), border=True)
    k[3].metric(tr("col_overdue"), num(total.get("resolved_overdue"), L), border=True)
    k[4].metric(tr("col_pending_overdue"), num(total.get("pending_overdue"), L), border=True)
    procs = [r for r in b if r["row_kind"] == "procedure"]
    st.subheader(tr("ag_procedures"))
    if not procs:
        st.info(tr("no_data"))
    else:
        procs.sort(key=lambda r: (-(r["resolved_overdue"] + r["pending_overdue"]), -(r["received_total"])))
        worst = [r for r in procs if r["resolved_overdue"] + r["pending_overdue"]][:12]
        if worst:
            fig = go.Figure()
            labels = [common.wrap(r["name"] or r["key"] or tr("ag_no_procedure"), 48) for r in worst][::-1]
            fig.add_trace(go.Bar(y=labels, x=[r["resolved_overdue"] for r in worst][::-1], orientation="h",
                                 name=tr("kind_resolved_overdue"), marker_color="#c0392b"))
            fig.add_trace(go.Bar(y=labels, x=[r["pending_overdue"] for r in worst][::-1], orientation="h",
                                 name=tr("kind_pending_overdue"), marker_color="#e67e22"))
            top = max(r["resolved_overdue"] + r["pending_overdue"] for r in worst)
            # whole dossiers: one tick per dossier for small counts (never "0 0 0 1 1 1")
            fig.update_layout(barmode="stack", height=max(260, 34 * len(worst) + 110),
                              xaxis=dict(tickformat=",d", rangemode="tozero", title=tr("ov_dossiers"),
                                         dtick=1 if top <= 10 else None),
                              yaxis=dict(automargin=True))
            common.chart(fig, key="ag_proc_chart", legend_y=1.12)  # below, it would sit on the axis title
        common.dataframe(pd.DataFrame([{tr("col_code"): r["key"], tr("col_procedure"): r["name"] or tr("ag_no_procedure"),
                                    tr("col_received"): r["received_total"], tr("col_resolved"): r["resolved_total"],
                                    tr("col_on_time"): r["on_time_ratio"], tr("col_overdue"): r["resolved_overdue"],
                                    tr("col_pending_overdue"): r["pending_overdue"]} for r in procs]),
                         {tr("col_on_time"): "pct"}, hide_index=True, key="ag_proc_table",
                         column_config={tr("col_procedure"): st.column_config.TextColumn(width="large")})

with common.guard():
    index766.agency_block(agency, month)

with common.guard():
    due_soon.agency_section(agency)

with common.guard():
    st.subheader(tr("ag_overdue"))
    od = common.query("dossiers_overdue", agency=agency, month=m_key, limit=500)
    if not od.rows:
        st.success(tr("ag_none_overdue"))
    else:
        why = common.explain(od.column("dossier_code"), agency)
        rows = [{tr("col_dossier"): r["dossier_code"], tr("col_kind"): tr(f"kind_{r['kind']}"),
                 tr("col_days_late"): r["days_late"],
                 tr("col_due"): day(r["due_date"], L),
                 tr("col_explanation"): (why.get(r["dossier_code"]) or {}).get("reason", ""),
                 tr("col_procedure"): r["procedure_name"] or r["procedure_code"],
                 tr("col_agency"): r["agency_name"] or r["agency_code"],
                 tr("col_received_at"): when(r["received_at"], L), tr("col_resolved_at"): when(r["resolved_at"], L)}
                for r in od]
        df = pd.DataFrame(rows)
        st.caption(tr("ag_shown", n=num(len(rows), L)))
        common.dataframe(df, {tr("col_days_late"): "int"}, hide_index=True, key="ag_overdue_table",
                         height=min(460, 36 * (len(df) + 1) + 4),
                         column_config={tr("col_explanation"): st.column_config.TextColumn(width="large"),
                                        tr("col_procedure"): st.column_config.TextColumn(width="medium")})
        st.download_button(tr("ag_download"), csv_bytes(df),
                           file_name=f"ho-so-qua-han_{agency}_{m_key}.csv", mime="text/csv", key="ag_download")

with common.guard():
    st.subheader(tr("ag_findings"))
    st.caption(tr("ag_findings_caption"))
    audit = common.query("audit_by_agency", month=m_key, agency=agency)
    found = next((r for r in audit if r["row_kind"] == "total"), {})  # the agency and its sub-units
    # a table, not a row of metrics: the findings' names are sentences that metric labels cut off
    common.dataframe(pd.DataFrame([{tr("col_finding"): tr(f"finding_{name}"),
                                    tr("col_finding_count"): found.get(name) or 0} for name in FINDINGS]),
                     {tr("col_finding_count"): "int"}, hide_index=True, key="ag_findings_counts",
                     column_config={tr("col_finding"): st.column_config.TextColumn(width="large")})
    if found.get("negative_counted_overdue"):
        st.caption(tr("ag_negative_overdue"))
    elif found.get("negative_after_deadline"):
        st.caption(tr("ag_negative_excluded"))
    fl = common.query("audit_findings", agency=agency, month=m_key, limit=500)
    if not fl.rows:
        st.success(tr("ag_no_findings"))
    else:
        st.caption(tr("ag_findings_shown", n=num(len(fl.rows), L)))
        common.dataframe(pd.DataFrame([{tr("col_dossier"): r["dossier_code"],
                                        tr("col_procedure"): r["procedure_name"] or r["procedure_code"],
                                        tr("col_finding"): "; ".join(tr(f"finding_{f}") for f in r["findings"]),
                                        tr("col_agency"): r["agency_name"] or r["agency_code"],
                                        tr("col_received_at"): when(r["received_at"], L),
                                        tr("col_resolved_at"): when(r["resolved_at"], L)} for r in fl]),
                         hide_index=True, key="ag_findings_table",
                         column_config={tr("col_finding"): st.column_config.TextColumn(width="large"),
                                        tr("col_procedure"): st.column_config.TextColumn(width="medium")})
