"""Tuân thủ (leadership, ICT, admin): the compliance register of Thông tư 22/2019/TT-BTTTT for a
chosen period (each criterion met / not met / not measured, since when, the numbers behind it, the
legal reference), the agencies' requests with their status, the vendor's answer, evidence and each
item's history, and the XLSX export. ICT and admin accounts add requests, record answers, attach
evidence (a file with a note, or a check or criterion that has passed since a date) and resolve:
each change is one more event of the append-only history, in the account's name; nothing on this
page edits or deletes one. Compliance library functions and named queries only."""
from __future__ import annotations

import base64
import datetime as dt
import json

import pandas as pd
import streamlit as st

from dashboard import common
from dashboard.access import WRITE_ROLES
from dashboard.i18n import TEXT, in_text, when
from dashboard.pages import Page

PAGE = Page(id="compliance", roles=("leadership", "ict", "admin"), title_key="page_compliance",
            icon=":material/fact_check:", url="tuan-thu")

tr, L = common.translator(), common.lang()
u = common.require_page(PAGE.id)
STATUS_COLORS = {"met": "#d8f3dc", "not_met": "#fde2e1", "not_measured": "#eef1f5"}


def _day(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, dt.datetime):
        if v.time() != dt.time():
            return when(v, L)
        v = v.date()
    return v.strftime("%d/%m/%Y") if L == "vi" else v.isoformat()


def _today() -> dt.date:
    from compliance.period import local_today

    return local_today()


FIELD_KEYS = {"agency": "col_agency", "requested_on": "cp_col_requested_on", "description": "cp_col_description",
              "criterion": "cp_col_criterion_id", "check_name": "cp_col_check", "check": "cp_col_check",
              "status": "col_status", "vendor_answer": "cp_col_answer", "kind": "cp_link_kind",
              "since": "cp_since_date", "file_name": "cp_file", "note": "cp_col_note"}


def what(data: str | None) -> str:
    """An event's fields in words ("Cơ quan: Sở Tư pháp; Trạng thái: Mới tiếp nhận")."""
    from compliance.register import STATUS_LABELS, request_status_label, status_label

    try:
        d = json.loads(data or "{}")
    except ValueError:
        return data or ""
    out = []
    for k, v in d.items():
        if k in ("size", "evidence_event_ids"):
            continue
        if k == "status":
            v = status_label(v, L) if v in STATUS_LABELS else request_status_label(v, L)
        elif k == "kind":
            v = tr(f"cp_kind_{v}")
        elif k == "sha256":
            k, v = "SHA-256", f"{str(v)[:12]}…"
        label = tr(FIELD_KEYS[k]) if k in FIELD_KEYS else k
        out.append(f"{label}: {'–' if v in (None, '') else v}")
    return "; ".join(out)


def via(v: str | None) -> str:
    """Where a change was made (cli, dashboard, import …) in words."""
    return tr(f"cp_via_{v}") if f"cp_via_{v}" in TEXT else (v or "–")


def refusal(e: Exception) -> None:
    """A change the register refused: in plain words, in the page's language."""
    msg = str(e)
    if "without evidence" in msg:
        st.error(tr("cp_refused_no_evidence"), icon=":material/block:")
    elif "evidence does not hold" in msg:
        st.error(tr("cp_refused_evidence_fails", msg=msg.split("does not hold:", 1)[-1].strip()), icon=":material/block:")
    else:
        st.error(tr("cp_refused", msg=msg), icon=":material/block:")


def perform(action: str, done_key: str, **params) -> bool:
    from dashboard.access import AccessDenied
    from store.errors import StoreError
    from store.ops import OperationError

    try:
        res = common.ops().compliance(action, **params)
    except (StoreError, OperationError, AccessDenied) as e:
        refusal(e)
        return False
    common.clear_caches()
    st.session_state["cp_done"] = tr(done_key, id=res.get("request_id", ""))
    st.rerun()
    return True


reg: dict = {}
with common.guard():
    common.page_header("cp_title")
    st.write(tr("cp_intro"))
    if st.session_state.get("cp_done"):
        st.success(st.session_state.pop("cp_done"), icon=":material/check_circle:")
    today = _today()
    c1, c2, _ = st.columns([1, 1, 2])
    start = c1.date_input(tr("cp_from"), today - dt.timedelta(days=29), max_value=today, key="cp_from",
                          format="DD/MM/YYYY")
    end = c2.date_input(tr("cp_to"), today, max_value=today, key="cp_to", format="DD/MM/YYYY")
    if start > end:
        st.warning(tr("cp_bad_period"))
        raise common.PageStop()
    reg = common.compliance_register(start, end)
    s = reg["summary"]["criteria"]
    rq = reg["summary"]["requests"]
    st.caption(f"{reg['title']} · {reg['legal_basis']}")
    k = st.columns(5)
    k[0].metric(tr("cp_met"), s["met"], border=True)
    k[1].metric(tr("cp_not_met"), s["not_met"], border=True)
    k[2].metric(tr("cp_not_measured"), s["not_measured"], border=True)
    k[3].metric(tr("cp_requests_open"), sum(v for kk, v in rq.items() if kk not in ("resolved", "withdrawn")),
                border=True)
    k[4].metric(tr("cp_requests_resolved"), rq["resolved"], border=True)
    h = reg["history"]
    if h.get("intact", True):
        st.caption(":material/verified: " + tr("cp_history_intact", n=h.get("events", 0)))
    else:
        st.error(tr("cp_history_broken", id=h.get("first_bad_event_id"), problem=h.get("problem")),
                 icon=":material/gpp_bad:")
if not reg:
    st.stop()

with common.guard():
    st.subheader(tr("cp_criteria"))
    rows = reg["criteria"]
    df = pd.DataFrame([{
        tr("cp_col_id"): r["id"], tr("cp_col_criterion"): r["title"], tr("col_status"): r["status_label"],
        tr("cp_col_since"): _day(r["since"]), tr("cp_col_numbers"): in_text(r["evidence"], L),
        tr("cp_col_legal"): r["legal_ref"], tr("cp_col_annex"): r["annex_label"], tr("cp_col_group"): r["group"],
        tr("cp_col_judged"): tr(f"cp_judged_{r['judged_by']}"), tr("cp_col_requests"): r["requests_open"],
        "_s": r["status"]} for r in rows])

    def color(row):
        return [f"background-color: {STATUS_COLORS[row['_s']]}" if c == tr("col_status") else "" for c in row.index]

    st.dataframe(common.styled(df).apply(color, axis=1), hide_index=True, key="cp_criteria_table",
                 column_order=[c for c in df.columns if c != "_s"],
                 column_config={tr("cp_col_numbers"): st.column_config.TextColumn(width="large"),
                                tr("cp_col_criterion"): st.column_config.TextColumn(width="medium")})
    by_id = {r["id"]: r for r in rows}
    cid = st.selectbox(tr("cp_criterion_detail"), list(by_id), key="cp_criterion",
                       format_func=lambda i: f"{i} · {by_id[i]['title']} · {by_id[i]['status_label']}")
    r = by_id[cid]
    with st.container(border=True):
        st.markdown(f"**{r['title']}** · {r['legal_ref']}")
        (st.success if r["status"] == "met" else st.warning if r["status"] == "not_met" else st.info)(
            f"{r['status_label']}" + (f" · {tr('cp_since', t=_day(r['since']))}" if r["since"] else ""))
        if r["threshold_note"]:
            st.caption(r["threshold_note"])
        for src in r["sources"]:
            st.markdown(f"- `{src['source']}`: {in_text(src['summary'], L)}")
        with st.expander(tr("cp_numbers")):
            st.json(json.loads(json.dumps([s["numbers"] for s in r["sources"]], default=str)), expanded=True)
        chist = common.query("compliance_history", item_kind="criterion", item_id=cid, limit=10_000).to_dicts()
        if chist:
            st.markdown(f"**{tr('cp_history')}**")
            common.dataframe(pd.DataFrame([{
                "#": e["event_id"], tr("cp_col_at"): when(e["at"], L), tr("cp_col_actor"): e["actor"],
                tr("cp_col_via"): via(e["via"]), tr("cp_col_action"): tr(f"cp_action_{e['action']}"),
                tr("cp_col_what"): what(e["data"]), tr("cp_col_note"): e["note"] or None} for e in chist]),
                hide_index=True, key="cp_criterion_history")

with common.guard():
    st.subheader(tr("cp_requests"))
    reqs = reg["requests"]
    if not reqs:
        st.info(tr("cp_no_requests"))
    else:
        def ev_text(items) -> str:
            return "; ".join(f"{'✓' if i['holds'] else '✗'} {i['what']}" for i in items) or "–"

        common.dataframe(pd.DataFrame([{
            tr("cp_col_id"): q["request_id"], tr("col_agency"): q["agency"],
            tr("cp_col_requested_on"): _day(q["requested_on"]), tr("cp_col_description"): q["description"],
            tr("cp_col_criterion_id"): q["criterion"] or None, tr("cp_col_check"): q["check_name"] or None,
            tr("col_status"): q["status_label"] + (" ⚠" if q["regression"] else ""),
            tr("cp_col_answer"): q["vendor_answer"] or None, tr("cp_col_evidence"): in_text(ev_text(q["evidence"]), L),
            tr("cp_col_evidence_holds"): q["evidence_holds"], tr("cp_col_updated"): _day(q["updated_at"]),
            tr("cp_col_updated_by"): q["updated_by"]} for q in reqs]), hide_index=True, key="cp_requests_table")
        regressions = [q["request_id"] for q in reqs if q["regression"]]
        if regressions:
            st.warning(tr("cp_regressions", ids=", ".join(regressions)), icon=":material/warning:")
        by_req = {q["request_id"]: q for q in reqs}
        rid = st.selectbox(tr("cp_request_detail"), list(by_req), key="cp_request",
                           format_func=lambda i: f"{i} · {by_req[i]['agency']} · {by_req[i]['status_label']}")
        q = by_req[rid]
        with st.container(border=True):
            st.markdown(f"**{q['request_id']}** · {q['agency']} · {_day(q['requested_on'])}\n\n{q['description']}")
            if q["vendor_answer"]:
                st.markdown(f"*{tr('cp_col_answer')}:* {q['vendor_answer']}")
            for i in q["evidence"]:
                (st.success if i["holds"] else st.warning)(f"{tr('cp_kind_' + i['kind'])}: {in_text(i['detail'], L)}")
            st.markdown(f"**{tr('cp_history')}**")
            hist = common.query("compliance_history", item_kind="request", item_id=rid, limit=10_000).to_dicts()
            common.dataframe(pd.DataFrame([{
                "#": e["event_id"], tr("cp_col_at"): when(e["at"], L), tr("cp_col_actor"): e["actor"],
                tr("cp_col_via"): via(e["via"]), tr("cp_col_action"): tr(f"cp_action_{e['action']}"),
                tr("cp_col_what"): what(e["data"]), tr("cp_col_note"): e["note"] or None} for e in hist]),
                hide_index=True, key="cp_history_table")
    st.caption(":material/lock: " + tr("cp_append_only"))

with common.guard():
    st.download_button(tr("cp_export"), common.compliance_xlsx(start, end),
                       file_name=f"so-tuan-thu-{start:%Y%m%d}-{end:%Y%m%d}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       key="cp_export", icon=":material/download:")

# -- changes (ict, admin): each one appends an event ----------------------------------------------------
if u.role not in WRITE_ROLES:
    st.caption(tr("cp_read_only"))
    st.stop()

with common.guard():
    st.divider()
    st.subheader(tr("cp_changes"))
    ids = [q["request_id"] for q in reg["requests"]]
    crit_ids = [r["id"] for r in reg["criteria"]]
    auto_ids = [r["id"] for r in reg["criteria"] if r["judged_by"] == "automatic"]
    try:
        from config.probes import load_probes

        p = load_probes(common.config().monitor.probes)
        checks = [c.name for c in p.checks] + [j.name for j in p.journeys] + \
                 [f"{j.name}/{s.name}" for j in p.journeys for s in j.steps]
    except Exception:  # noqa: BLE001 - no usable probes file: a check can still be typed
        checks = []
    t_add, t_answer, t_file, t_check, t_resolve = st.tabs(
        [tr("cp_tab_add"), tr("cp_tab_answer"), tr("cp_tab_file"), tr("cp_tab_check"), tr("cp_tab_resolve")])
    with t_add, st.form("cp_add", clear_on_submit=False):
        agency = st.text_input(tr("col_agency"), key="cp_add_agency")
        requested_on = st.date_input(tr("cp_col_requested_on"), today, max_value=today, key="cp_add_date",
                                     format="DD/MM/YYYY")
        description = st.text_area(tr("cp_col_description"), key="cp_add_description")
        a1, a2, a3 = st.columns(3)
        criterion = a1.selectbox(tr("cp_col_criterion_id"), [None, *crit_ids], key="cp_add_criterion",
                                 format_func=lambda c: "–" if c is None else c)
        check = a2.selectbox(tr("cp_col_check"), [None, *checks], key="cp_add_check",
                             format_func=lambda c: "–" if c is None else c)
        request_id = a3.text_input(tr("cp_request_id"), key="cp_add_id", help=tr("cp_request_id_help"))
        note = st.text_input(tr("cp_col_note"), key="cp_add_note")
        if st.form_submit_button(tr("cp_add_submit"), type="primary", key="cp_add_submit"):
            perform("add_request", "cp_done_add", agency=agency, requested_on=requested_on.isoformat(),
                    description=description, criterion=criterion, check=check, request_id=request_id or None,
                    note=note or None)
    if not ids:
        for tab in (t_answer, t_file, t_check, t_resolve):
            tab.info(tr("cp_no_requests"))
        raise common.PageStop()
    with t_answer, st.form("cp_answer"):
        rid = st.selectbox(tr("cp_col_id"), ids, key="cp_answer_id")
        answer = st.text_area(tr("cp_col_answer"), key="cp_answer_text")
        note = st.text_input(tr("cp_col_note"), key="cp_answer_note")
        if st.form_submit_button(tr("cp_answer_submit"), type="primary", key="cp_answer_submit"):
            perform("answer_request", "cp_done_answer", request_id=rid, answer=answer, note=note or None)
    with t_file, st.form("cp_file"):
        rid = st.selectbox(tr("cp_col_id"), ids, key="cp_file_id")
        up = st.file_uploader(tr("cp_file"), key="cp_file_upload", help=tr("cp_file_help"))
        common.uploader_words("cp_file_upload")
        note = st.text_input(tr("cp_col_note"), key="cp_file_note")
        if st.form_submit_button(tr("cp_file_submit"), type="primary", key="cp_file_submit"):
            if up is None:
                st.error(tr("cp_file_missing"))
            else:
                perform("attach_file", "cp_done_file", request_id=rid, note=note, file_name=up.name,
                        content_b64=base64.b64encode(up.getvalue()).decode("ascii"))
    with t_check, st.form("cp_check"):
        rid = st.selectbox(tr("cp_col_id"), ids, key="cp_check_id")
        kind = st.radio(tr("cp_link_kind"), ["check", "criterion"], key="cp_check_kind", horizontal=True,
                        format_func=lambda k: tr(f"cp_kind_{k}"))
        b1, b2 = st.columns(2)
        check = b1.selectbox(tr("cp_col_check"), checks or [None], key="cp_check_name")
        criterion = b2.selectbox(tr("cp_col_criterion_id"), auto_ids, key="cp_check_criterion")
        since = st.date_input(tr("cp_since_date"), today, max_value=today, key="cp_check_since", format="DD/MM/YYYY")
        note = st.text_input(tr("cp_col_note"), key="cp_check_note")
        if st.form_submit_button(tr("cp_check_submit"), type="primary", key="cp_check_submit"):
            what = {"check": check} if kind == "check" else {"criterion": criterion}
            perform("attach_check", "cp_done_check", request_id=rid, since=since.isoformat(), note=note or None, **what)
    with t_resolve, st.form("cp_resolve"):
        st.caption(tr("cp_resolve_help"))
        rid = st.selectbox(tr("cp_col_id"), ids, key="cp_resolve_id")
        note = st.text_input(tr("cp_col_note"), key="cp_resolve_note")
        if st.form_submit_button(tr("cp_resolve_submit"), type="primary", key="cp_resolve_submit"):
            perform("resolve_request", "cp_done_resolve", request_id=rid, note=note or None)
