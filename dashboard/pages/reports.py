"""Báo cáo: the monthly briefing exports (DOCX/XLSX/PDF in the official form). The exports are
not yet part of the dashboard: the page says so plainly."""
from __future__ import annotations

import streamlit as st

from dashboard import common

tr = common.translator()
common.require_page("reports")

with common.guard():
    common.page_header("rp_title")
    st.write(tr("rp_intro"))
    st.info(tr("rp_pending"), icon=":material/info:")
