"""The dashboard's due-soon blocks (sắp đến hạn): the counts per agency on Tổng quan, the list on
Cơ quan. Counted as of the current minute (the time left moves with the clock, not only with a
refresh): the minute is part of the cached answers' key."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from config.cells import csv_bytes
from config.clock import local_now
from config.vocabulary import DUE_SOON_DAYS
from dashboard import common
from dashboard.i18n import num, when
from reports.due_soon import format_days, format_left

DAYS = DUE_SOON_DAYS  # what Tổng quan counts and Cơ quan shows first


def now_minute() -> str:
    """The current minute: what the due-soon answers are asked at (and cached by)."""
    return local_now().replace(second=0, microsecond=0).isoformat(sep=" ")


def overview_section() -> None:
    """Tổng quan: how many dossiers are due within DAYS working days, per agency, most first."""
    tr, L = common.translator(), common.lang()
    now = now_minute()
    st.subheader(tr("ds_title"))
    st.caption(tr("ds_caption", days=format_days(DAYS, L), t=when(now, L)))
    rows = common.query("due_soon_by_agency", days=DAYS, as_of=now).to_dicts()
    total = next((r for r in rows if r["row_kind"] == "total"), {})
    per = [r for r in rows if r["row_kind"] == "agency"]
    k = st.columns(3)
    k[0].metric(tr("ds_due", days=format_days(DAYS, L)), num(total.get("due_soon") or 0, L), border=True)
    k[1].metric(tr("ds_one_day"), num(total.get("due_within_one_day") or 0, L), border=True)
    k[2].metric(tr("ds_agencies"), num(len(per), L), border=True)
    if not per:
        st.success(tr("ds_none"))
        return
    common.dataframe(pd.DataFrame([{
        tr("col_agency"): r["agency_name"] or r["agency_code"],
        tr("col_due_soon"): r["due_soon"], tr("col_within_one_day"): r["due_within_one_day"],
        tr("col_most_urgent"): format_left(r["min_working_minutes_left"], r["office_day_minutes"], L)} for r in per]),
        {tr("col_due_soon"): "int", tr("col_within_one_day"): "int"}, hide_index=True, key="ov_due_soon_table",
        height=min(320, 36 * (len(per) + 1) + 4),
        column_config={tr("col_agency"): st.column_config.TextColumn(width="large")})


def agency_section(agency: str) -> None:
    """Cơ quan: the agency's (and its sub-units') dossiers due soon, most urgent first, as CSV too."""
    tr, L = common.translator(), common.lang()
    now = now_minute()
    st.subheader(tr("ds_title"))
    options = [1, 2, 3, 5, 10]
    pick, _ = st.columns([1, 3])
    days = pick.selectbox(tr("ds_days"), options, index=options.index(DAYS), key="ag_due_days",
                          format_func=lambda d: format_days(d, L))
    st.caption(tr("ds_caption", days=format_days(days, L), t=when(now, L)))
    t = common.query("due_soon", agency=agency, days=days, as_of=now, limit=500)
    if not t.rows:
        st.success(tr("ds_none"))
        return
    df = pd.DataFrame([{
        tr("col_dossier"): r["dossier_code"],
        tr("col_time_left"): format_left(r["working_minutes_left"], r["office_day_minutes"], L),
        tr("col_due_at"): when(r["due_at"], L),
        tr("col_procedure"): r["procedure_name"] or r["procedure_code"],
        tr("col_agency"): r["agency_name"] or r["agency_code"],
        tr("col_received_at"): when(r["received_at"], L)} for r in t])
    st.caption(tr("ds_shown", n=num(len(df), L)))
    common.dataframe(df, hide_index=True, key="ag_due_soon_table", height=min(420, 36 * (len(df) + 1) + 4),
                     column_config={tr("col_procedure"): st.column_config.TextColumn(width="large")})
    st.download_button(tr("ds_download"), csv_bytes(df), file_name=f"ho-so-sap-den-han_{agency}.csv",
                       mime="text/csv", key="ag_due_soon_download")
