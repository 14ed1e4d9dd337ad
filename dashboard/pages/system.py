"""Hệ thống (ICT): the portal as citizens meet it, from the synthetic probes: status now,
availability and latency per check and journey step, a heatmap by hour and day, the phase
breakdown, SLO burn rates, the alert timeline, and latency against concurrent load (p95 against
the users running, per interval of the latest load-test runs: loadtest_runs, loadtest_series).

Probes measure from several locations (the central server and remote agents, config/agents.py):
the "Điểm đo" section lists them (probe_locations), and a selector narrows the figures to one;
with all of them, a check counts as failing in the banner only when it fails from the quorum of
locations, as the alerts judge it. With only the central, the page is as it was, with one line
saying so."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from config.agents import LOCAL_LOCATION
from config.clock import local_now
from dashboard import common
from dashboard.i18n import DATE_TICKS, HOVER_TIME, alert_text, num, pct, probe_reason, unit, when
from dashboard.pages import Page

PAGE = Page(id="system", roles=("leadership", "ict", "vendor", "admin"), title_key="page_system",
            icon=":material/monitor_heart:", url="he-thong")

tr, L = common.translator(), common.lang()
common.require_page(PAGE.id)
WINDOWS = {"win_24h": 24, "win_7d": 24 * 7, "win_28d": 24 * 28}


ready = False
with common.guard():
    common.page_header("sys_title")
    win = st.segmented_control(tr("sys_window"), list(WINDOWS), default="win_24h", format_func=tr, key="sys_win") \
        or "win_24h"
    now = local_now().replace(microsecond=0)
    since = (now - dt.timedelta(hours=WINDOWS[win])).replace(second=0)
    since_key = since.replace(minute=since.minute - since.minute % 5).isoformat()  # cache-friendly
    agents = common.config().agents
    places = common.query("probe_locations", fresh_minutes=agents.fresh_minutes,
                          at=now.replace(second=0).isoformat()).to_dicts()
    seen = [p["location"] for p in places if p["last_result_at"] is not None]
    place_name = {p["location"]: agents.title(p["location"], L) for p in places}
    several = len(seen) > 1
    where = None
    if several:
        picked = st.selectbox(tr("sys_location"), ["*"] + seen, key="sys_loc",
                              format_func=lambda v: tr("sys_location_all") if v == "*" else place_name.get(v, v))
        where = None if picked == "*" else picked
    summary = common.query("probe_summary", since=since_key, location=where)
    if not summary.rows:
        st.info(tr("sys_no_probes"))
        raise common.PageStop()
    rows = summary.to_dicts()
    mixed = where is None and len({r["location"] for r in rows}) > 1  # rows of several locations

    def label_of(r) -> str:
        return r["name"] + (f" / {r['step']}" if r["step"] not in ("", "*") else "") + (
            f" · {place_name.get(r['location'], r['location'])}" if mixed else "")

    latest = [r for r in rows if r["step"] in ("", "*")]
    only_at: list[tuple[dict, list[str]]] = []
    if mixed:
        # as the alerts judge it: failing when it fails from needed(reporting) of the reporting locations
        reporting = {LOCAL_LOCATION} | {p["location"] for p in places if p["fresh"]}  # as alerting/slo.py counts
        by_check: dict[str, list[dict]] = {}
        for r in latest:
            if r["location"] in reporting:
                by_check.setdefault(r["name"], []).append(r)
        failing, checks = [], []
        for name, rs in by_check.items():
            bad = [r for r in rs if not r["last_ok"]]
            checks.append(rs[0])
            # the central counts through its newest result for the check, whatever its age
            if bad and len(bad) >= agents.needed_at([r["location"] for r in rs], own=False):
                failing.append(bad[0])
            elif bad:
                only_at.append((bad[0], [place_name.get(r["location"], r["location"]) for r in bad]))
        n_checks = len(checks)
    else:
        failing = [r for r in latest if not r["last_ok"]]
        n_checks = len(latest)
    if latest and n_checks and len(failing) == n_checks:
        st.error(f"**{tr('sys_down', n=len(failing), total=n_checks)}**\n\n" + "\n".join(
            f"- {r['name']}: {probe_reason(r['last_reason'], L) or '?'} ({when(r['last_at'], L)})" for r in failing[:8]),
            icon=":material/error:")
    elif failing:
        st.warning(f"**{tr('sys_failing', n=len(failing))}**\n\n" + "\n".join(
            f"- {r['name']}: {probe_reason(r['last_reason'], L) or '?'} ({when(r['last_at'], L)})" for r in failing),
            icon=":material/warning:")
    else:
        st.success(tr("sys_all_ok", n=n_checks), icon=":material/check_circle:")
    # one note per place (or set of places), its checks listed: one agent's network trouble
    # usually fails every check from there at once
    grouped: dict[str, list[dict]] = {}
    for r, names in only_at:
        grouped.setdefault("; ".join(names), []).append(r)
    for where_, rs in grouped.items():
        st.info(f"**{tr('sys_only_at', where=where_)}**\n\n" + "\n".join(
            f"- {r['name']}: {probe_reason(r['last_reason'], L) or '?'} ({when(r['last_at'], L)})" for r in rs),
            icon=":material/location_off:")
    runs = sum(r["runs"] for r in latest)
    fails = sum(r["failures"] for r in latest)
    k = st.columns(4)
    k[0].metric(tr("col_availability"), pct(1 - fails / runs if runs else None, L, 2), border=True)
    k[1].metric(tr("col_runs"), num(runs, L), border=True)
    k[2].metric(tr("col_failures"), num(fails, L), border=True)
    p95 = [r["p95_ms"] for r in latest if r["p95_ms"] is not None]
    k[3].metric("p95", unit(max(p95) if p95 else None, "ms", L), border=True)
    ready = True
if not ready:
    st.stop()

with common.guard():
    st.subheader(tr("sys_availability"))
    df = pd.DataFrame([{**({tr("sys_location"): place_name.get(r["location"], r["location"])} if mixed else {}),
                        tr("col_check"): r["name"], tr("col_step"): r["step"] if r["step"] not in ("", "*") else None,
                        tr("col_runs"): r["runs"], tr("col_failures"): r["failures"],
                        tr("col_availability"): r["availability"], "p50": r["p50_ms"], "p95": r["p95_ms"],
                        tr("col_last"): tr("ok") if r["last_ok"] else tr("failed"),
                        tr("col_reason"): None if r["last_ok"] else probe_reason(r["last_reason"], L) or None}
                       for r in rows])
    common.dataframe(df, {tr("col_availability"): "pct2", "p50": "ms", "p95": "ms"}, hide_index=True,
                     key="sys_summary_table", column_config={tr("col_reason"): st.column_config.TextColumn(width="large")})
    with_p95 = sorted((r for r in rows if r["p95_ms"] is not None and r["step"] != "*"), key=lambda r: -r["p95_ms"])[:15]
    if with_p95:
        labels = [label_of(r) for r in with_p95][::-1]
        fig = go.Figure()
        fig.add_trace(go.Bar(y=labels, x=[r["p50_ms"] for r in with_p95][::-1], name="p50", orientation="h",
                             marker_color="#1f5fa8"))
        fig.add_trace(go.Bar(y=labels, x=[r["p95_ms"] for r in with_p95][::-1], name="p95", orientation="h",
                             marker_color="#e67e22"))
        fig.update_traces(hovertemplate="%{y}: %{x:,.0f} ms<extra>%{fullData.name}</extra>")
        fig.update_layout(barmode="group", height=max(280, 30 * len(with_p95)), xaxis=dict(title="ms", ticksuffix=" ms", tickformat=","),
                          yaxis=dict(automargin=True))
        common.chart(fig, key="sys_latency_chart")

with common.guard(), st.container(key="sys_locations"):
    if not several:
        st.caption(f"{tr('sys_locations')}: {tr('sys_locations_central_only')}")
    else:
        st.subheader(tr("sys_locations"))

        def state_word(p) -> str:
            if p["last_result_at"] is None:
                return tr("loc_never")
            return tr("loc_fresh") if p["fresh"] else tr("loc_stale")

        common.dataframe(pd.DataFrame([{
            tr("loc_col_title"): place_name.get(p["location"], p["location"]),
            tr("loc_col_last"): p["last_result_at"], tr("loc_col_fresh"): state_word(p),
            tr("loc_col_results"): p["results_1h"], tr("loc_col_failures"): p["failures_1h"],
            tr("loc_col_failing"): ", ".join(p["failing_names"]) if p["failing_names"] else tr("loc_none_failing"),
            tr("loc_col_version"): p["agent_version"], tr("loc_col_batches"): p["batches"],
            tr("loc_col_duplicates"): p["duplicates"]} for p in places]),
            {tr("loc_col_last"): "when"}, hide_index=True, key="sys_locations_table")
        st.caption(tr("sys_locations_caption", k=num(agents.quorum, L), m=num(agents.fresh_minutes, L)))

left, right = st.columns(2)
with left, common.guard():
    st.subheader(tr("sys_heatmap"))
    hm = common.query("probe_heatmap", since=since_key, location=where)
    days = tr("dow").split(",")
    z = [[None] * 24 for _ in range(7)]
    for r in hm:
        z[r["dow"] - 1][r["hour_of_day"]] = 100 * (r["failure_ratio"] or 0)
    fig = go.Figure(go.Heatmap(z=z, x=list(range(24)), y=days, colorscale="RdYlGn_r", zmin=0, zmax=max(
        5, max((v for row in z for v in row if v is not None), default=5)),
        colorbar=dict(title=tr("sys_failure_pct"), ticksuffix=" %"),
        hovertemplate="%{y} %{x}:00: %{z:.1f} %<extra></extra>"))
    fig.update_layout(height=320, xaxis=dict(title=tr("hour"), dtick=2), yaxis=dict(autorange="reversed"))
    common.chart(fig, key="sys_heatmap_chart")

with right, common.guard():
    st.subheader(tr("sys_phases"))
    ph = common.query("probe_phases", since=since_key, location=where).to_dicts()[:12]
    if ph:
        labels = [r["name"] + (f" / {r['step']}" if r["step"] else "") for r in ph][::-1]  # one location or all pooled
        fig = go.Figure()
        for col, name, color in (("dns_ms", "DNS", "#8e44ad"), ("connect_ms", "TCP", "#2980b9"),
                                 ("tls_ms", "TLS", "#16a085"), ("ttfb_ms", "TTFB", "#e67e22"),
                                 ("transfer_ms", tr("phase_transfer"), "#7f8c8d")):
            fig.add_trace(go.Bar(y=labels, x=[r[col] for r in ph][::-1], name=name, orientation="h",
                                 marker_color=color))
        fig.update_traces(hovertemplate="%{y}: %{x:,.0f} ms<extra>%{fullData.name}</extra>")
        fig.update_layout(barmode="stack", height=max(320, 26 * len(ph) + 120), xaxis=dict(title="ms", ticksuffix=" ms", tickformat=","),
                          yaxis=dict(automargin=True))
        common.chart(fig, key="sys_phase_chart")
    else:
        st.info(tr("no_data"))

with common.guard():
    st.subheader(tr("sys_slo"))
    from config.slo import load_slos

    slos = load_slos(common.config().monitor.slos)
    minutes = sorted({m for r in slos.burn_rules for m in (r.long_minutes, r.short_minutes)})
    out = []
    for slo in slos.slos:
        w = {r["minutes"]: r for r in common.query("probe_windows", probe=slo.probe, step=slo.step,
                                                   until=now.replace(second=0).isoformat(), minutes=minutes,
                                                   slow_ms=slo.latency_ms, location=where)}
        for kind, budget, key in (("errors", 1 - slo.availability, "failures"),
                                  ("slow", 1 - slo.latency_objective, "slow")):
            if kind == "slow" and not slo.latency_ms:
                continue
            for rule in slos.burn_rules[:2]:
                lw = w.get(rule.long_minutes) or {}
                ratio = (lw.get(key) or 0) / lw["runs"] if lw.get("runs") else None
                out.append({tr("col_slo"): slo.title, tr("col_kind_err"): tr(kind),
                            tr("col_objective"): slo.availability if kind == "errors" else slo.latency_objective,
                            tr("col_window"): (f"{rule.long_minutes // 60} {tr('unit_hours')}" if rule.long_minutes >= 60
                                               else f"{rule.long_minutes} {tr('unit_minutes')}"),
                            tr("col_runs"): lw.get("runs") or 0,
                            tr("col_burn"): None if ratio is None else ratio / budget,
                            "limit": rule.factor})
    if out:
        df = pd.DataFrame(out)
        # the burn rate against its alerting limit: red from the limit on
        limits = df.pop("limit")
        burns = list(df[tr("col_burn")])

        def over(col):  # from the values, not the cells (written out as text where one is empty)
            return ["background-color: #fde2e1" if v is not None and v == v and v >= lim else ""
                    for v, lim in zip(burns, limits)]

        st.dataframe(common.styled(df, {tr("col_objective"): "pct", tr("col_burn"): "times"})
                     .apply(over, subset=[tr("col_burn")]), hide_index=True, key="sys_slo_table")
        st.caption(tr("sys_burn_caption"))
    else:
        st.info(tr("no_data"))

with common.guard():
    st.subheader(tr("sys_alerts"))
    al = common.query("alert_timeline", since=since_key, limit=300)
    if not al.rows:
        st.info(tr("sys_no_alerts"))
    else:
        colors = {"firing": "#c0392b", "repeat": "#e67e22", "resolved": "#27ae60"}

        def label(r) -> str:  # the alert's own words, without the "[CẢNH BÁO – …]" tag the channels need
            title = r["title"] or r["key"]
            return title.split("] ", 1)[1] if title.startswith("[") and "] " in title else title

        fig = go.Figure()
        for kind in ("firing", "repeat", "resolved"):
            pts = [r for r in al if r["kind"] == kind]
            if pts:
                fig.add_trace(go.Scatter(x=[r["at"] for r in pts], y=[label(r) for r in pts], mode="markers",
                                         name=tr(f"alert_{kind}"), marker=dict(color=colors[kind], size=11),
                                         text=[alert_text(r["body"], L).replace("\n", "<br>") for r in pts],
                                         hovertemplate="%{x|" + HOVER_TIME[L] + "}<br>%{y}<br>%{text}<extra></extra>"))
        # The window's whole span on the axis, minutes and days as the page writes them: alerts sent
        # in the same second must not zoom the axis into milliseconds.
        n_keys = len({label(r) for r in al})
        fig.update_layout(height=max(220, 32 * n_keys + 120),
                          xaxis=dict(type="date", range=[since, now + dt.timedelta(minutes=5)],
                                     tickformat=DATE_TICKS[L], nticks=8),
                          yaxis=dict(automargin=True, type="category"))
        common.chart(fig, key="sys_alert_chart")
        common.dataframe(pd.DataFrame([{tr("col_time"): r["at"], tr("col_kind_err"): tr(f"alert_{r['kind']}"),
                                        tr("col_title"): r["title"], tr("col_reason"): alert_text(r["body"], L)}
                                       for r in al]),
                         {tr("col_time"): "when"}, hide_index=True, key="sys_alert_table",
                         column_config={tr("col_reason"): st.column_config.TextColumn(width="large")})

with common.guard():
    st.subheader(tr("sys_load"))
    LOAD_RUNS = 6
    lt_runs = [r for r in common.query("loadtest_runs", limit=50).to_dicts()
               if r["status"] != "refused" and r["requests"]][:LOAD_RUNS]
    if not lt_runs:
        st.info(tr("sys_load_none"), icon=":material/info:")
    else:
        fig = go.Figure()
        for r in lt_runs:
            pts = [p for p in common.query("loadtest_series", run_id=r["run_id"]) if p["requests"] and p["p95_ms"] is not None]
            fig.add_trace(go.Scatter(x=[p["users"] for p in pts], y=[p["p95_ms"] for p in pts], mode="markers",
                                     name=f"{r['release']} · {r['scenario']} · {when(r['started_at'], L)}",
                                     hovertemplate="%{x} " + tr("lt_users_short") + ": p95 %{y:,.0f} ms<extra>"
                                     + r["run_id"] + "</extra>"))
        fig.update_layout(height=360, xaxis=dict(title=tr("lt_users"), rangemode="tozero"),
                          yaxis=dict(title="p95 (ms)", ticksuffix=" ms", tickformat=",", rangemode="tozero"))
        common.chart(fig, key="sys_load_chart")
        st.caption(tr("sys_load_caption", n=len(lt_runs)))

# -- the public status page's incidents: what citizens read; admins open, post, correct and resolve --

INCIDENT_DAYS = 30


def _sp_words(vi: str | None, en: str | None) -> str:
    return (en or vi or "") if L == "en" else (vi or "")


def _sp_change(action: str, **params) -> None:
    """One change through the signed-in account's ops (admin only), then the page again with a note."""
    from dashboard.access import AccessDenied
    from store.errors import StoreError
    from store.ops import OperationError

    try:
        res = common.ops().status_incident(action, **params)
    except (StoreError, OperationError, AccessDenied, MotcuaError) as e:
        st.error(tr("sp_refused", msg=e.text(L) if isinstance(e, MotcuaError) else str(e)), icon=":material/block:")
        return
    common.clear_caches()
    st.session_state["sp_done"] = tr(f"sp_done_{action}", id=res["incident_id"])
    st.rerun()


with common.guard():
    from config.errors import MotcuaError
    from config.status_page import IMPACTS, INCIDENT_STATUSES, OPEN_STATUSES, load_status_page

    st.subheader(tr("sp_title"))
    cfg = common.config()
    spc = cfg.status_page
    url = f"http://{spc.host}:{spc.port}/" if spc.enabled else tr("sp_disabled")
    st.caption(tr("sp_intro", url=spc.public_url or url))
    if st.session_state.get("sp_done"):
        st.success(st.session_state.pop("sp_done"), icon=":material/check_circle:")
    page_file = load_status_page(spc.file)
    names = {s.id: s.name(L) for s in page_file.services}

    def status_word(v: str) -> str:
        label = INCIDENT_STATUSES.get(v)
        return v if label is None else (label.en if L == "en" else label.vi)

    def impact_word(v: str) -> str:
        label = IMPACTS.get(v)
        return v if label is None else (label.en if L == "en" else label.vi)

    def actor_word(v: str) -> str:
        return tr("sp_monitor") if v == "monitor" else v

    incidents = common.query("status_incidents", since=(now - dt.timedelta(days=INCIDENT_DAYS)).isoformat()).to_dicts()
    if not incidents:
        st.info(tr("sp_none"), icon=":material/info:")
    else:
        common.dataframe(pd.DataFrame([{
            tr("sp_col_id"): str(r["incident_id"]), tr("sp_col_service"): names.get(r["service"], r["service"]),
            tr("sp_col_title"): _sp_words(r["title_vi"], r["title_en"]), tr("sp_col_status"): status_word(r["status"]),
            tr("sp_col_impact"): impact_word(r["impact"]), tr("sp_col_opened"): r["opened_at"],
            tr("sp_col_opened_by"): actor_word(r["opened_by"]), tr("sp_col_resolved"): r["resolved_at"]}
            for r in incidents]), {tr("sp_col_opened"): "when", tr("sp_col_resolved"): "when"}, hide_index=True,
            key="sp_incidents_table")
        labels = {r["incident_id"]: f"{r['incident_id']} · {names.get(r['service'], r['service'])} · "
                                    f"{_sp_words(r['title_vi'], r['title_en'])} ({status_word(r['status'])})"
                  for r in incidents}
        picked = st.selectbox(tr("sp_pick"), list(labels), format_func=labels.get, key="sp_inc_id")
        chosen = next(r for r in incidents if r["incident_id"] == picked)
        st.markdown(f"**{tr('sp_history', id=picked)}**")
        hist = common.query("status_incident_updates", incident_id=picked).to_dicts()
        common.dataframe(pd.DataFrame([{
            tr("col_time"): h["at"], tr("sp_col_actor"): actor_word(h["actor"]),
            tr("sp_col_action"): tr(f"sp_action_{h['action']}"), tr("sp_col_status"): status_word(h["status"]),
            tr("sp_col_message"): _sp_words(h["message_vi"], h["message_en"])} for h in hist]),
            {tr("col_time"): "when"}, hide_index=True, key="sp_history_table",
            column_config={tr("sp_col_message"): st.column_config.TextColumn(width="large")})
        if common.user().role == "admin" and chosen["resolved_at"] is None:
            c1, c2, c3 = st.columns(3)
            with c1.form("sp_post_form"):
                st.markdown(f"**{tr('sp_post')}**")
                status = st.selectbox(tr("sp_status"), list(OPEN_STATUSES), format_func=status_word,
                                      index=OPEN_STATUSES.index(chosen["status"]), key="sp_post_status")
                impact = st.selectbox(tr("sp_impact"), list(IMPACTS), format_func=impact_word,
                                      index=list(IMPACTS).index(chosen["impact"]), key="sp_post_impact")
                msg_vi = st.text_area(tr("sp_message_vi"), key="sp_post_message_vi")
                msg_en = st.text_area(tr("sp_message_en"), key="sp_post_message_en")
                if st.form_submit_button(tr("sp_post_submit"), key="sp_post_submit"):
                    _sp_change("post", incident_id=picked, status=status, impact=impact, message_vi=msg_vi,
                               message_en=msg_en)
            with c2.form("sp_edit_form"):
                st.markdown(f"**{tr('sp_edit')}**")
                st.caption(tr("sp_edit_help"))
                title_vi = st.text_input(tr("sp_title_vi"), chosen["title_vi"], key=f"sp_edit_title_vi_{picked}")
                edit_vi = st.text_area(tr("sp_message_vi"), chosen["message_vi"], key=f"sp_edit_message_vi_{picked}")
                edit_en = st.text_area(tr("sp_message_en"), chosen["message_en"] or "",
                                       key=f"sp_edit_message_en_{picked}")
                if st.form_submit_button(tr("sp_edit_submit"), key="sp_edit_submit"):
                    changes = {k: v for k, v, old in (("title_vi", title_vi, chosen["title_vi"]),
                                                      ("message_vi", edit_vi, chosen["message_vi"]),
                                                      ("message_en", edit_en, chosen["message_en"] or ""))
                               if v.strip() != (old or "").strip()}
                    _sp_change("edit", incident_id=picked, **changes)
            with c3.form("sp_resolve_form"):
                st.markdown(f"**{tr('sp_resolve')}**")
                res_vi = st.text_area(tr("sp_message_vi"), key="sp_resolve_message_vi",
                                      help=tr("sp_resolve_help", msg=page_file.resolved_message(L)))
                if st.form_submit_button(tr("sp_resolve_submit"), key="sp_resolve_submit"):
                    _sp_change("resolve", incident_id=picked, message_vi=res_vi)
    if common.user().role == "admin":
        st.markdown(f"**{tr('sp_new')}**")
        sid = st.selectbox(tr("sp_service"), list(names), format_func=names.get, key="sp_open_service")
        tpl = page_file.service(sid).incident
        with st.form("sp_open_form"):
            o_title_vi = st.text_input(tr("sp_title_vi"), tpl.title.vi, key=f"sp_open_title_vi_{sid}")
            o_msg_vi = st.text_area(tr("sp_message_vi"), tpl.message.vi, key=f"sp_open_message_vi_{sid}")
            o_title_en = st.text_input(tr("sp_title_en"), tpl.title.en, key=f"sp_open_title_en_{sid}")
            o_msg_en = st.text_area(tr("sp_message_en"), tpl.message.en, key=f"sp_open_message_en_{sid}")
            o_impact = st.selectbox(tr("sp_impact"), list(IMPACTS), format_func=impact_word, key="sp_open_impact")
            if st.form_submit_button(tr("sp_open_submit"), key="sp_open_submit"):
                _sp_change("open", service=sid, title_vi=o_title_vi, message_vi=o_msg_vi, title_en=o_title_en,
                           message_en=o_msg_en, impact=o_impact)
    else:
        st.caption(tr("sp_admin_only"))
