"""The dashboard's Reports page ("Báo cáo") under Streamlit's AppTest, on the real store the
dashboard's tests share (tests/dashboard/conftest.py): who sees it, the file the download button
hands out (kept from the page's own run and opened with python-docx / openpyxl / pypdf) carries the
store's figures, an agency account's briefing holds only its agency, an empty month says so, and
the monthly job's files are listed for download."""
from __future__ import annotations

import io
import re

import pytest
from docx import Document
from openpyxl import load_workbook
from pypdf import PdfReader
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import app_test as app_test_module

from dashboard.access import PAGE_ROLES, AccessDenied, ScopedOps
from dashboard.backend import Backend
from dashboard.users import ROLES, User
from reports.briefing.labels import fmt_int, fmt_pct
from reports.briefing.model import COUNT_COLUMNS, MIME
from reports.files import build_report
from reports.monthly import write_briefing
from tests.dashboard.apptest import AGENCY, PAGE_FILE, backend_query, login, open_page

KEPT: dict[str, bytes] = {}


class _KeepingStorage(MemoryMediaFileStorage):
    """AppTest's in-memory media storage, keeping every file a run registers (AppTest drops its
    storage when the run ends), so a test can read what the download button would serve."""

    def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):
        fid = super().load_and_get_id(path_or_data, mimetype, kind, filename)
        KEPT[fid] = self.get_file(fid).content
        return fid


@pytest.fixture
def keep_downloads(monkeypatch):
    KEPT.clear()
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", _KeepingStorage)
    return KEPT


def _downloads(at) -> dict[str, tuple[str, bytes]]:
    """Each download button on the page: key → (label, the bytes it serves)."""
    out = {}
    for el in at.get("download_button"):
        p = el.proto
        fid = p.url.rsplit("/", 1)[-1].split(".", 1)[0]
        out[p.id.rsplit("-", 1)[-1] if "-" in p.id else p.id] = (p.label, KEPT[fid])
    return out


def _download(at, label_start: str = "Tải xuống") -> bytes:
    got = [data for label, data in _downloads(at).values() if label.startswith(label_start)]
    assert len(got) == 1, [label for label, _ in _downloads(at).values()]
    return got[0]


def _generate(at, month=None, fmt="docx", agency=None):
    if month is not None:
        at.selectbox(key="rp_month").set_value(month)
    at.selectbox(key="rp_format").set_value(fmt)
    if agency is not None:
        at.selectbox(key="rp_agency").set_value(agency)
    at.run()
    at.button(key="rp_generate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [e.value for e in at.error], [e.value for e in at.error]
    return at


def _docx_text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for row in t.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


def _pdf_text(data: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))


def _total(world, month, agency=None):
    return next(r for r in backend_query(world, "bieu06", month=month, agency=agency) if r["row_kind"] == "total")


@pytest.mark.parametrize("role", ROLES)
def test_who_sees_the_reports_page(store_env, role):
    at = login(role)
    if role not in PAGE_ROLES["reports"]:
        with pytest.raises(ValueError):
            at.switch_page(PAGE_FILE["reports"])
        return
    open_page(at, "reports")
    assert at.title[0].value == "Báo cáo"
    months = at.selectbox(key="rp_month").options
    assert months and at.selectbox(key="rp_format").options == ["Văn bản Word (DOCX)", "Bảng tính Excel (XLSX, Biểu 06)",
                                                                  "PDF"]
    assert at.button(key="rp_generate") is not None
    if role == "agency":
        own = at.selectbox(key="rp_agency_own")
        assert own.disabled and len(own.options) == 1 and AGENCY in own.options[0]
    else:
        opts = at.selectbox(key="rp_agency").options
        assert opts[0].startswith("Toàn tỉnh") and len(opts) > 20


@pytest.mark.parametrize("fmt", ["docx", "xlsx", "pdf"])
def test_downloaded_briefing_carries_the_store_figures(store_env, keep_downloads, fmt):
    at = open_page(login("leadership"), "reports")
    month = at.selectbox(key="rp_month").value
    m = month.strftime("%Y-%m")
    _generate(at, fmt=fmt)
    data = _download(at)
    tot = _total(store_env, m)
    assert tot["received_total"] > 0
    if fmt == "docx":
        text = _docx_text(data)
        assert f"tháng {month:%m/%Y}" in text
        assert f"nhận giải quyết {fmt_int(tot['received_total'])} hồ sơ" in text
        assert f"tỷ lệ giải quyết đúng hạn {fmt_pct(tot['on_time_ratio'])}" in text
    elif fmt == "xlsx":
        ws = load_workbook(io.BytesIO(data))["Biểu 06 - cơ quan"]
        assert ws["B10"].value == "Tổng cộng"
        assert [c.value for c in ws[10][2:13]] == [tot[c] for c in COUNT_COLUMNS]
    else:
        text = _pdf_text(data)
        assert f"nhận giải quyết {fmt_int(tot['received_total'])} hồ sơ" in text
    assert any(s.value.startswith("Đã lập báo cáo tháng") for s in at.success)
    # a rerun (the download click reruns the page) keeps the button, from the cache, same bytes
    at.run()
    assert _download(at) == data


def test_agency_account_gets_only_its_own_agency(store_env, keep_downloads):
    at = open_page(login("agency"), "reports")
    month = at.selectbox(key="rp_month").value
    m = month.strftime("%Y-%m")
    subtree = set(backend_query(store_env, "agency_scope", agency=AGENCY).column("code"))
    everyone = {r["dossier_code"]: r["agency_code"] for r in backend_query(store_env, "dossiers_overdue", month=m, limit=100000)}
    others = {c for c, a in everyone.items() if a not in subtree}
    assert others, "other agencies have overdue dossiers the briefing must not hold"
    mine = _total(store_env, m, AGENCY)

    _generate(at, fmt="xlsx")
    wb = load_workbook(io.BytesIO(_download(at)))
    ws = wb["Biểu 06 - cơ quan"]
    assert [c.value for c in ws[10][2:13]] == [mine[c] for c in COUNT_COLUMNS]
    names = {r["name"] for r in backend_query(store_env, "agency_scope", agency=AGENCY)}
    listed = {str(r[1].value).strip() for r in ws.iter_rows(min_row=11) if r[1].value and r[0].value}
    assert listed and listed <= names
    od = wb["Hồ sơ quá hạn"]
    codes = {r[1].value for r in od.iter_rows(min_row=3) if r[1].value and str(r[0].value).strip()}
    assert codes <= subtree
    assert not {r[0].value for r in od.iter_rows(min_row=3)} & others

    _generate(at, fmt="docx")
    text = _docx_text(_download(at))
    assert not [c for c in others if c in text]
    own_name = next(r["name"] for r in backend_query(store_env, "agency_scope", agency=AGENCY) if r["code"] == AGENCY)
    assert f"Tình hình, kết quả giải quyết thủ tục hành chính tháng {month:%m/%Y} của {own_name}" in text
    assert f"nhận giải quyết {fmt_int(mine['received_total'])} hồ sơ" in text


def test_agency_scope_of_the_briefing_is_enforced_in_the_ops_layer(store_env):
    """Not only the page: the briefing run through an agency account's ScopedOps cannot reach
    another agency, and its per-agency figures are the subtree's only."""
    b = Backend(store_env["cfg"])
    subtree = set(b.query("agency_scope", agency=AGENCY).column("code"))
    scoped = ScopedOps(b, User("a", "agency", agency=AGENCY), lambda c: subtree if c == AGENCY else {c})
    month = b.query("dashboard_months").rows[0][0].strftime("%Y-%m")
    with pytest.raises(AccessDenied):
        build_report(scoped, month, "docx", agency="QNG.SNNMT")
    rep = build_report(scoped, month, "xlsx", agency=AGENCY)
    assert rep.agency == AGENCY and rep.mime == MIME["xlsx"]
    ws = load_workbook(io.BytesIO(rep.data))["Số liệu cơ quan"]
    assert {r[0].value for r in ws.iter_rows(min_row=3) if r[0].value} <= subtree


def test_empty_month_for_an_agency_says_so(store_env, keep_downloads):
    at = open_page(login("leadership"), "reports")
    month = at.selectbox(key="rp_month").value
    m = month.strftime("%Y-%m")
    rows = [r for r in backend_query(store_env, "bieu06", month=m) if r["row_kind"] == "agency"]
    idle = next(r for r in rows if not any(r[c] for c in COUNT_COLUMNS))
    opt = next(o for o in at.selectbox(key="rp_agency").options if o.endswith(f"({idle['key']})"))
    _generate(at, fmt="docx", agency=opt)
    assert any("không có hồ sơ nào" in i.value for i in at.info)
    assert "không có hồ sơ nào được tiếp nhận" in _docx_text(_download(at))


def test_files_of_the_monthly_job_are_listed(store_env, keep_downloads):
    from config.app import load_config

    cfg = load_config(environ=store_env["env"])
    at = open_page(login("ict"), "reports")
    month = at.selectbox(key="rp_month").value
    m = month.strftime("%Y-%m")
    folder = cfg.reports.folder(cfg.store.path) / m
    assert any("Chưa có tệp báo cáo định kỳ" in i.value for i in at.info)
    from system import Motcua

    app = Motcua(cfg)
    try:
        paths = write_briefing(app, m, folder, ["docx", "xlsx"], cfg=cfg)
    finally:
        app.close()
    try:
        at.run()
        got = {label: data for label, data in _downloads(at).values()}
        assert got["DOCX"] == paths[0].read_bytes() and got["XLSX"] == paths[1].read_bytes()
        assert any(paths[0].name in c.value for c in at.caption)
        # an agency account never gets the province's files: the page says that the monthly job
        # writes the province's only and that the agency's briefing is made on demand
        ag = open_page(login("agency"), "reports")
        ag.selectbox(key="rp_month").set_value(month).run()
        assert not _downloads(ag)
        own_name = next(r["name"] for r in backend_query(store_env, "agency_scope", agency=AGENCY) if r["code"] == AGENCY)
        assert any("Tác vụ hằng tháng chỉ lập sẵn báo cáo toàn tỉnh" in i.value and own_name in i.value
                   and "Lập báo cáo" in i.value for i in ag.info), [i.value for i in ag.info]
        assert not any("Chưa có tệp báo cáo định kỳ" in i.value for i in ag.info)
        # its own agency's files, written by `app.py export --agency`, are listed for it (and only those)
        app = Motcua(cfg)
        try:
            paths += write_briefing(app, m, folder, ["xlsx"], agency=AGENCY, cfg=cfg)
        finally:
            app.close()
        ag.run()
        got = {label: data for label, data in _downloads(ag).values()}
        assert got == {"XLSX": paths[-1].read_bytes()} and AGENCY in paths[-1].name
        assert not any(i.value.startswith("Tác vụ hằng tháng") for i in ag.info)
    finally:
        for p in paths:
            p.unlink()


def test_reports_page_in_english(store_env):
    at = open_page(login("admin", lang="en"), "reports")
    assert at.title[0].value == "Reports" and at.button(key="rp_generate").label == "Generate"
