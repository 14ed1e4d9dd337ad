"""Báo cáo: the monthly briefing (reports/briefing/) in the official form, as DOCX, XLSX or PDF,
for a month with data and the province or one agency; generated on demand (bytes kept in
st.cache_data on month, format and agency) and downloaded, beside the files the monthly job
already wrote (data/reports/YYYY-MM/). An agency account only ever gets its own agency's
briefing: the scope is forced in the ops layer (dashboard/access.py) on every query the briefing
runs, and checked before a cached file is handed out. The monthly job writes the province's
files only: an agency's are those `app.py export --agency` wrote, and otherwise the page says
that its briefing is made on demand (never the province's files in its place)."""
from __future__ import annotations

import streamlit as st

from config.clock import from_timestamp
from dashboard import common
from dashboard.access import WRITE_ROLES
from dashboard.i18n import month_label, num, when
from dashboard.pages import Page
from reports.briefing.model import FORMATS, MIME, BriefingError
from reports.files import Report, build_report
from reports.monthly import written_files

PAGE = Page(id="reports", roles=("leadership", "ict", "agency", "admin"), title_key="page_reports",
            icon=":material/description:", url="bao-cao")

tr, L = common.translator(), common.lang()
u = common.require_page(PAGE.id)


def _size(n: int) -> str:
    return f"{num(n / 1024, L, 0)} KB" if n < 1024 * 1024 else f"{num(n / 1024 / 1024, L, 1)} MB"


@st.cache_data(ttl=900, max_entries=48, show_spinner=False)
def _briefing(month: str, fmt: str, agency: str | None, store_path: str, data_version: str,
              _ops, _cfg) -> Report:
    """The generated file, kept per (month, format, agency) and the store's data version; `_ops` is
    the signed-in user's ScopedOps (not part of the key: the caller checks the scope first)."""
    return build_report(_ops, month, fmt, agency, _cfg)


ready = False
with common.guard():
    s = common.require_data()
    common.page_header("rp_title", s)
    st.write(tr("rp_intro"))
    ms = common.months()
    if not ms:
        st.info(tr("no_data"))
        raise common.PageStop()
    c1, c2, c3 = st.columns([1, 1, 2])
    month = c1.selectbox(tr("rp_month"), ms, index=common.default_month(ms, s),
                         format_func=lambda m: month_label(m, L), key="rp_month")
    fmt = c2.selectbox(tr("rp_format"), FORMATS, format_func=lambda f: tr(f"rp_fmt_{f}"), key="rp_format")
    if u.role == "agency":
        agency = u.agency
        scope = common.query("agency_scope", agency=agency).to_dicts()
        name = next((r["name"] for r in scope if r["code"] == agency), None) or agency
        c3.selectbox(tr("rp_agency"), [agency], format_func=lambda c: f"{name} ({c})", disabled=True,
                     key="rp_agency_own")
        st.caption(tr("rp_own_agency", agency=name))
    else:
        scope = common.query("agency_scope").to_dicts()
        names = {r["code"]: ("\u2003" * int(r["rel_depth"] or 0)) + (r["name"] or r["code"]) for r in scope}
        agency = c3.selectbox(tr("rp_agency"), [""] + list(names), key="rp_agency",
                              format_func=lambda c: tr("rp_province") if not c else f"{names[c].strip()} ({c})") or None
    m_key = month.strftime("%Y-%m")
    ready = True
if not ready:
    st.stop()

with common.guard():
    o = common.ops()
    agency = o._agency(agency)  # an agency account: its own agency, anything else refused
    cfg = common.config()
    version = f"{s.get('last_run_id')}|{s.get('last_recompute_at')}|{s.get('dossiers')}"
    key = (m_key, fmt, agency, version)
    if st.button(tr("rp_generate"), type="primary", icon=":material/description:", key="rp_generate"):
        with st.spinner(tr("rp_generating")):
            try:
                _briefing(m_key, fmt, agency, str(cfg.store.path), version, o, cfg)
            except BriefingError as e:  # e.g. an agency not on that month's tree: said plainly
                st.warning(tr("rp_failed", msg=str(e)), icon=":material/warning:")
                raise common.PageStop() from None
        st.session_state["rp_made"] = key
    if st.session_state.get("rp_made") == key:
        rep = _briefing(m_key, fmt, agency, str(cfg.store.path), version, o, cfg)  # kept: no second build
        label = month_label(month, L)
        if rep.empty:
            st.info(tr("rp_empty_month", m=label, scope=rep.scope_name), icon=":material/info:")
        st.success(tr("rp_ready", m=label, scope=rep.scope_name, name=rep.filename, size=_size(len(rep.data))))
        st.download_button(tr("rp_download", name=rep.filename), rep.data, file_name=rep.filename, mime=rep.mime,
                           icon=":material/download:", key="rp_download")

with common.guard():
    cfg = common.config()
    folder = cfg.reports.folder(cfg.store.path)
    st.subheader(tr("rp_written", m=month_label(month, L)))
    files = written_files(folder, m_key, agency)
    if not files and agency:
        scope_name = next((r["name"] for r in scope if r["code"] == agency), None) or agency
        st.info(tr("rp_written_agency_none", agency=scope_name), icon=":material/info:")
    elif not files:
        where = f" ({folder / m_key})" if u.role in WRITE_ROLES else ""  # the server's paths: for ict and admin
        st.info(tr("rp_written_none", m=month_label(month, L), folder=where, day=cfg.reports.schedule.day),
                icon=":material/folder_off:")
    for i, path in enumerate(files):
        data = path.read_bytes()
        ext = path.suffix[1:]
        c1, c2 = st.columns([3, 1])
        c1.caption(tr("rp_written_caption", name=path.name, size=_size(len(data)),
                      t=when(from_timestamp(path.stat().st_mtime), L)))
        c2.download_button(ext.upper(), data, file_name=path.name, mime=MIME[ext], key=f"rp_file_{i}",
                           icon=":material/download:")
