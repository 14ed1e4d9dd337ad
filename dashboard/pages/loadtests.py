"""Kiểm thử tải (vendors, ICT): load-test runs, criteria verdicts, the capacity curve and the
release comparison. The figures come from the load-test module's named queries, not yet part of
the dashboard: the page says so plainly and shows no stand-in figures."""
from __future__ import annotations

import streamlit as st

from dashboard import common

tr = common.translator()
common.require_page("loadtests")

with common.guard():
    common.page_header("lt_title")
    st.write(tr("lt_intro"))
    st.info(tr("lt_pending"), icon=":material/info:")
