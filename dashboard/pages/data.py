"""Dữ liệu (ICT, admin): upload an export, see its validation report before anything is stored
(a dry-run import: every check, the counts it would add / update / quarantine, then rolled back),
import it; the quarantine; recent imports; the sync reconciliation with the national portal."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import streamlit as st

from config.clock import local_now
from config.mapping import load_mapping
from dashboard import common
from dashboard.i18n import TEXT, field_label, import_reason, num, pct, when
from dashboard.pages import Page
from imports import archive

PAGE = Page(id="data", roles=("ict", "admin"), title_key="page_data",
            icon=":material/database:", url="du-lieu")

tr, L = common.translator(), common.lang()
common.require_page(PAGE.id)


def _uploads_dir() -> Path:
    d = archive.uploads_dir(common.config().store.path)
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d


def _save(upload) -> Path:
    """The upload, readable by the server's account only, until it is imported (then only its copy
    without personal data is kept), cancelled, or deleted by the owner after inbox.upload_hours."""
    safe = re.sub(r"[^\w.\-]+", "_", Path(upload.name).name)[:120] or "upload.csv"
    return archive.write_private(_uploads_dir() / f"{local_now():%Y%m%d-%H%M%S}_{safe}", upload.getvalue())


def _archive(pending: dict, res: dict) -> None:
    """After the import: the archive's copies without personal data and the report, as the watch
    folder keeps them (imports/archive.py); the uploads themselves are deleted."""
    cfg, stamp = common.config(), archive.stamp()
    mapping = load_mapping(cfg.imports.column_mapping)
    name = _name(pending["file"])
    archive.keep(Path(pending["file"]), cfg.inbox.archive, stamp, mapping, "dossiers", name=name)
    if pending.get("events"):
        archive.keep(Path(pending["events"]), cfg.inbox.archive, stamp, mapping, "events",
                     name=_name(pending["events"]))
    archive.write_report(Path(cfg.inbox.archive) / f"{stamp}_{name}.report.txt", res.get("text", ""),
                         {k: v for k, v in res.items() if k != "text"})
    for p in pending["paths"]:
        Path(p).unlink(missing_ok=True)


def _errors_frame(rows: list[dict]) -> pd.DataFrame:
    """The validation's errors by position, as the import gave them (row, workbook row, field)."""
    sheet = any(r.get("sheet_row") is not None for r in rows)
    out = []
    for r in rows:
        row = {tr("col_row"): r["row"]}
        if sheet:
            row[tr("col_sheet_row")] = r.get("sheet_row")
        row.update({tr("col_field"): field_label(r["field"], L), tr("col_value"): r.get("value"),
                    tr("col_message"): r["reason_vi"] if L == "vi" else r["reason"]})
        out.append(row)
    return pd.DataFrame(out)


def _name(path: str | None) -> str:
    """A file as its user knows it: the name, never the server's folders (uploads carry a time prefix)."""
    name = Path(path or "").name
    return re.sub(r"^\d{8}-\d{6}_", "", name)


def _report(rep: dict) -> None:
    st.markdown(f"#### {tr('data_report')}: `{st.session_state.get('pending_import', {}).get('name') or _name(rep['file'])}`")
    k = st.columns(5)
    k[0].metric(tr("data_rows"), num(rep["rows_read"], L), border=True)
    k[1].metric(tr("data_new"), num(rep["inserted"], L), border=True)
    k[2].metric(tr("data_updated"), num(rep["updated"], L), border=True)
    k[3].metric(tr("data_unchanged"), num(rep["unchanged"], L), border=True)
    k[4].metric(tr("data_quarantined"), num(rep["quarantined"], L), border=True)
    if rep.get("pii_columns_dropped"):
        st.info(tr("data_pii", cols=", ".join(rep["pii_columns_dropped"])), icon=":material/lock:")
    if rep.get("columns_dropped"):
        st.caption(tr("data_unknown_cols", cols=", ".join(rep["columns_dropped"])))
    if rep.get("inconsistent_states"):
        st.caption(tr("data_inconsistent", n=num(rep["inconsistent_states"], L)))
    errors = rep.get("error_rows") or []
    if errors:
        st.warning(tr("data_errors", n=num(rep.get("error_count") or len(errors), L)))
        common.dataframe(_errors_frame(errors), {tr("col_row"): "int", tr("col_sheet_row"): "int"},
                         hide_index=True, key="data_errors_table",
                         column_config={tr("col_message"): st.column_config.TextColumn(width="large")})
    elif rep.get("error_count"):
        st.warning(tr("data_errors", n=num(rep["error_count"], L)))
    else:
        st.success(tr("data_no_errors"))
    ev = rep.get("events")
    if ev:
        st.caption(f"{tr('data_events')}: {st.session_state.get('pending_import', {}).get('events_name') or _name(ev['file'])}"
                   f" · {tr('data_rows')} {num(ev['rows_read'], L)} · {tr('data_quarantined')} {num(ev['quarantined'], L)}")
        if ev.get("error_rows"):
            common.dataframe(_errors_frame(ev["error_rows"]), {tr("col_row"): "int", tr("col_sheet_row"): "int"},
                             hide_index=True, key="data_event_errors_table",
                             column_config={tr("col_message"): st.column_config.TextColumn(width="large")})


with common.guard():
    common.page_header("data_title", common.status())
    st.subheader(tr("data_upload"))
    st.caption(tr("data_upload_help"))
    with st.form("upload", clear_on_submit=False, border=True):
        c1, c2 = st.columns(2)
        up = c1.file_uploader(tr("data_file"), type=["csv", "xlsx", "xlsm"], key="data_file")
        ev = c2.file_uploader(tr("data_events"), type=["csv", "xlsx", "xlsm"], key="data_events")
        for k in ("data_file", "data_events"):
            common.uploader_words(k, ["csv", "xlsx", "xlsm"])
        check = st.form_submit_button(tr("data_check"), type="primary")
    if check and up is not None:
        old = st.session_state.pop("pending_import", None)
        for p in (old or {}).get("paths", []):
            Path(p).unlink(missing_ok=True)
        path = _save(up)
        ev_path = _save(ev) if ev is not None else None
        st.session_state["pending_import"] = {"paths": [str(path)] + ([str(ev_path)] if ev_path else []),
                                              "file": str(path), "events": str(ev_path) if ev_path else None,
                                              "name": Path(up.name).name, "events_name": Path(ev.name).name if ev else None}
        try:
            rep = common.ops().import_file(str(path), str(ev_path) if ev_path else None, dry_run=True, lang=L)
        except Exception:
            for p in st.session_state.pop("pending_import")["paths"]:
                Path(p).unlink(missing_ok=True)
            raise
        st.session_state["pending_import"]["report"] = rep
    pending = st.session_state.get("pending_import")
    if pending and pending.get("report"):
        _report(pending["report"])
        b1, b2, _ = st.columns([1, 1, 4])
        if b1.button(tr("data_import"), type="primary", key="data_do_import"):
            o = common.ops()
            res = o.import_file(pending["file"], pending["events"], lang=L)
            o.recompute(full=False)  # only what the file changed, when that is enough
            _archive(pending, res)
            st.session_state.pop("pending_import", None)
            common.clear_caches()
            st.session_state["import_done"] = res
            st.rerun()
        if b2.button(tr("data_cancel"), key="data_cancel"):
            for p in st.session_state.pop("pending_import")["paths"]:
                Path(p).unlink(missing_ok=True)
            st.rerun()
    done = st.session_state.pop("import_done", None)
    if done:
        st.success(tr("data_imported", ins=num(done["inserted"], L), upd=num(done["updated"], L),
                      q=num(done["quarantined"], L)), icon=":material/check_circle:")

with common.guard():
    st.subheader(tr("data_quarantine"))
    qt = common.query("quarantine_list", limit=500)
    if not qt.rows:
        st.success(tr("data_quarantine_empty"))
    else:
        st.caption(f"{num(common.status().get('quarantined_rows'), L)} · " + tr("data_quarantine"))
        df = pd.DataFrame([{tr("col_file"): _name(r["file_name"]), tr("col_row"): r["row_no"],
                            tr("col_field"): field_label(r["field"], L), tr("col_value"): r["value"],
                            tr("col_message"): import_reason(r["reason"], L), tr("col_time"): r["created_at"]}
                           for r in qt])
        common.dataframe(df, {tr("col_row"): "int", tr("col_time"): "when"}, hide_index=True,
                         key="data_quarantine_table", height=300)

with common.guard():
    st.subheader(tr("data_batches"))
    bt = common.query("import_batches", limit=20)
    if bt.rows:
        df = pd.DataFrame([{tr("col_code"): r["batch_id"], tr("col_file"): _name(r["file_name"]),
                            tr("col_status"): tr(f"batch_{r['status']}") if f"batch_{r['status']}" in TEXT else r["status"],
                            tr("col_started"): r["started_at"], tr("col_rows"): r["rows_read"],
                            tr("col_inserted"): r["rows_inserted"], tr("col_updated"): r["rows_updated"],
                            tr("col_quarantined"): r["rows_quarantined"]} for r in bt])
        common.dataframe(df, {tr("col_started"): "when"}, hide_index=True, key="data_batches_table")

with common.guard():
    s = common.require_data()
    st.subheader(tr("data_sync"))
    sync = common.query("sync_by_agency")
    per_source = [r for r in sync if r["row_kind"] in ("total", "source_system")]
    k = st.columns(max(1, len(per_source)))
    for col, r in zip(k, per_source):
        label = tr("col_unsynced") + (f" · {tr('col_source')} {r['source_system']}" if r["row_kind"] != "total" else "")
        col.metric(label, num(r["unsynced"], L), border=True,
                   help=f"{pct(r['unsynced_ratio'], L, 2)} / {num(r['resolved'], L)} {tr('col_resolved_n').lower()}")
    un = common.query("sync_unsynced", limit=500)
    if un.rows:
        st.caption(tr("data_sync_list"))
        df = pd.DataFrame([{tr("col_dossier"): r["dossier_code"], tr("col_agency"): r["agency_name"] or r["agency_code"],
                            tr("col_source"): r["source_system"], tr("col_problem"): tr(f"problem_{r['problem']}"),
                            tr("col_resolved_at"): when(r["resolved_at"], L), tr("col_synced_at"): when(r["synced_at"], L)}
                           for r in un])
        common.dataframe(df, hide_index=True, key="data_sync_table", height=300)
