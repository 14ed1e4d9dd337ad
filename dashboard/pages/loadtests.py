"""Kiểm thử tải (vendors, ICT, leadership): load-test runs with scenario and release filters, a
run's criteria verdicts, per-endpoint percentiles, latency / throughput / users over time, the
capacity curve and knee of a step run, the generator-overloaded warning, failures with their
messages, the run's HTML report, and the comparison of two runs. Named queries of
store/loadtest_queries.py only."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from dashboard import common
from dashboard.i18n import TEXT, formatter, num, pct, probe_reason, unit, when
from dashboard.pages import Page

PAGE = Page(id="loadtests", roles=("leadership", "ict", "vendor", "admin"), title_key="page_loadtests",
            icon=":material/speed:", url="kiem-thu-tai")

tr, L = common.translator(), common.lang()
common.require_page(PAGE.id)
COMPARED = ("p50_ms", "p95_ms", "p99_ms", "rps", "error_rate")


def status_label(s: str | None) -> str:
    return tr(f"lt_status_{s}") if s else "–"


def verdict_label(v: str | None) -> str:
    return tr(f"lt_verdict_{v or 'none'}")


def run_label(r: dict) -> str:
    return (f"{when(r['started_at'], L)} · {r['scenario']} · {r['release']} · {verdict_label(r['verdict'])}"
            f" ({status_label(r['status'])}) · {r['run_id']}")


def threshold(expr: str) -> tuple[str, str]:
    """A criterion's expression in the page's words and the kind of its observed value
    ('p(95) < 2s' → 'p95 < 2.000 ms', 'ms'; 'errors < 1%' → 'Tỷ lệ lỗi < 1 %', 'pct2')."""
    from config.loadtest import Threshold

    try:
        th = Threshold.parse(expr)
    except ValueError:
        return expr, "dec2"
    if th.metric == "error_rate":
        return f"{tr('lt_col_error_rate')} {th.op} {pct(th.value, L, 2 if th.value * 100 % 1 else 0)}", "pct2"
    if th.metric == "rps":
        return f"{tr('lt_metric_rps')} {th.op} {unit(th.value, 'req/s', L, 0 if th.value.is_integer() else 1)}", "rps"
    name = tr(f"lt_stat_{th.metric}") if f"lt_stat_{th.metric}" in TEXT else th.metric
    return f"{name} {th.op} {unit(th.value, 'ms', L)}", "ms"


def _value(metric: str, v) -> str:
    """A compared figure with its unit."""
    if metric == "error_rate":
        return pct(v, L, 2)
    if metric == "rps":
        return unit(v, "req/s", L, 2)
    return unit(v, "ms", L)


def _change(metric: str, v) -> str:
    if v is None or v != v:
        return "–"
    sign = "+" if v > 0 else ""
    if metric == "error_rate":  # a change of a ratio: in percentage points
        return sign + num(100 * v, L, 2) + " " + tr("ov_vs_last")
    return sign + (unit(v, "req/s", L, 2) if metric == "rps" else unit(v, "ms", L))


def endpoint_label(method: str, name: str) -> str:
    return tr("lt_all_requests") if name == "*" else (f"{method} {name}" if method else name)


runs: list[dict] = []
with common.guard():
    common.page_header("lt_title")
    st.write(tr("lt_intro"))
    releases = common.query("loadtest_releases").to_dicts()
    if not releases:
        st.info(f"**{tr('lt_none')}**\n\n{tr('lt_none_hint')}", icon=":material/info:")
        raise common.PageStop()
    c1, c2 = st.columns(2)
    scenarios = sorted({r["scenario"] for r in releases})
    scenario = c1.selectbox(tr("lt_scenario"), [None, *scenarios], key="lt_scenario",
                            format_func=lambda s: tr("lt_all") if s is None else s)
    rels = [r["release"] for r in releases if scenario is None or r["scenario"] == scenario]
    release = c2.selectbox(tr("lt_release"), [None, *dict.fromkeys(rels)], key="lt_release",
                           format_func=lambda s: tr("lt_all") if s is None else s)
    runs = common.query("loadtest_runs", limit=200, scenario=scenario, release=release).to_dicts()
    st.subheader(tr("lt_runs"))
    if not runs:
        st.info(tr("no_data"))
        raise common.PageStop()
    common.dataframe(pd.DataFrame([{
        tr("lt_col_run"): r["run_id"], tr("lt_col_started"): r["started_at"],
        tr("lt_col_scenario"): r["scenario"], tr("lt_col_release"): r["release"],
        tr("col_status"): status_label(r["status"]), tr("lt_col_verdict"): verdict_label(r["verdict"]),
        tr("lt_col_users"): r["users_peak"], tr("lt_col_requests"): r["requests"], "req/s": r["rps"],
        tr("lt_col_error_rate"): r["error_rate"], "p95 (ms)": r["p95_ms"],
        tr("lt_col_knee"): r["knee_users"]} for r in runs]),
        {tr("lt_col_started"): "when", "req/s": "dec1", tr("lt_col_error_rate"): "pct2", "p95 (ms)": "int",
         tr("lt_col_users"): "int", tr("lt_col_requests"): "int", tr("lt_col_knee"): "int"},
        hide_index=True, key="lt_runs_table")
if not runs:
    st.stop()

# -- one run ------------------------------------------------------------------------------------
run: dict = {}
with common.guard():
    st.divider()
    by_id = {r["run_id"]: r for r in runs}
    # default: the newest run that sent load (a refused run is listed, but seldom what one wants to read)
    first = next((i for i, r in enumerate(runs) if r["status"] != "refused"), 0)
    rid = st.selectbox(tr("lt_run"), list(by_id), index=first, key="lt_run", format_func=lambda i: run_label(by_id[i]))
    run = common.query("loadtest_run", run_id=rid).one() or {}
    st.subheader(tr("lt_run_title", run=rid, release=run["release"]))
    k = st.columns(3) + st.columns(3)
    k[0].metric(tr("lt_col_verdict"), verdict_label(run["verdict"]), border=True)
    k[1].metric(tr("lt_col_users"), num(run["users_peak"], L), border=True)
    k[2].metric(tr("lt_col_requests"), num(run["requests"], L), border=True)
    k[3].metric(tr("lt_rps"), unit(run["rps"], "req/s", L, 1), border=True)
    k[4].metric(tr("lt_col_error_rate"), pct(run["error_rate"], L, 2), border=True)
    k[5].metric("p95", unit(run["p95_ms"], "ms", L), border=True)
    st.caption(tr("lt_run_caption", status=status_label(run["status"]), scenario=run["scenario"],
                  target=run["target"], started=when(run["started_at"], L), finished=when(run["finished_at"], L),
                  workers=run["workers"] or 1, criteria=run["criteria"] or "–"))
    if run["message"]:
        (st.error if run["status"] in ("refused", "failed") else st.warning)(
            tr("lt_message", msg=run["message"]), icon=":material/warning:")
    if run["generator_overloaded"]:
        st.warning(tr("lt_overloaded", cpu=num(run["generator_cpu_max"], L, 0)), icon=":material/memory:")
    if run["verdict"] == "fail":
        st.error(tr("lt_failed_banner"), icon=":material/cancel:")
    elif run["verdict"] == "pass":
        st.success(tr("lt_passed_banner"), icon=":material/check_circle:")
    report = Path(run["report_path"]) if run.get("report_path") else None
    if report is not None and report.is_file():
        st.download_button(tr("lt_report"), report.read_bytes(), file_name=f"loadtest-{rid}.html",
                           mime="text/html", key="lt_report_download", icon=":material/download:")
    else:
        st.caption(tr("lt_no_report", run=rid))
if not run:
    st.stop()

with common.guard():
    st.subheader(tr("lt_verdicts"))
    vs = common.query("loadtest_verdicts", run_id=rid).to_dicts()
    if not vs:
        st.info(tr("lt_no_verdicts"))
    else:
        shown = [threshold(v["expression"]) for v in vs]
        st.dataframe(pd.DataFrame([{
            tr("lt_col_criterion"): v["criterion"], tr("lt_col_endpoint"): endpoint_label(v["method"], v["name"]),
            tr("lt_col_expression"): expr,
            tr("lt_col_observed"): formatter(kind, L)(v["observed"]),
            tr("lt_col_result"): tr("lt_pass") if v["passed"] else tr("lt_fail"),
            tr("lt_col_at_users"): v["at_users"], tr("lt_col_required_users"): v["required_users"],
            tr("lt_col_window"): v["window_s"], tr("lt_col_note"): v["note"] or None}
            for v, (expr, kind) in zip(vs, shown)]).pipe(common.styled, {tr("lt_col_window"): "s"}),
            hide_index=True, key="lt_verdicts_table")

with common.guard():
    st.subheader(tr("lt_endpoints"))
    es = common.query("loadtest_endpoints", run_id=rid).to_dicts()
    if not es:
        st.info(tr("no_data"))
    else:
        common.dataframe(pd.DataFrame([{
            tr("lt_col_endpoint"): endpoint_label(e["method"], e["name"]), tr("lt_col_kind"): tr(f"lt_kind_{e['kind']}"),
            tr("lt_col_requests"): e["requests"], tr("col_failures"): e["failures"],
            tr("lt_col_error_rate"): e["error_rate"], "req/s": e["rps"], "p50 (ms)": e["p50_ms"],
            "p90 (ms)": e["p90_ms"], "p95 (ms)": e["p95_ms"], "p99 (ms)": e["p99_ms"], "max (ms)": e["max_ms"]}
            for e in es]), {tr("lt_col_error_rate"): "pct2", "req/s": "dec2",
                            **{f"{p} (ms)": "int" for p in ("p50", "p90", "p95", "p99", "max")}},
            hide_index=True, key="lt_endpoints_table")

with common.guard():
    st.subheader(tr("lt_over_time"))
    se = common.query("loadtest_series", run_id=rid).to_dicts()
    if not se:
        st.info(tr("no_data"))
    else:
        t = [s["t_s"] for s in se]
        fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                            subplot_titles=(tr("lt_latency_ms"), tr("lt_throughput"), tr("lt_users")))
        for col, name, color in (("p50_ms", "p50", "#1f5fa8"), ("p95_ms", "p95", "#e67e22"),
                                 ("p99_ms", "p99", "#c0392b")):
            fig.add_trace(go.Scatter(x=t, y=[s[col] for s in se], name=name, mode="lines",
                                     line=dict(color=color)), row=1, col=1)
        fig.add_trace(go.Scatter(x=t, y=[s["rps"] for s in se], name="req/s", mode="lines",
                                 line=dict(color="#16a085")), row=2, col=1)
        fig.add_trace(go.Bar(x=t, y=[s["failures"] for s in se], name=tr("col_failures"),
                             marker_color="#c0392b", opacity=0.6), row=2, col=1)
        fig.add_trace(go.Scatter(x=t, y=[s["users"] for s in se], name=tr("lt_users"), mode="lines",
                                 line=dict(color="#7f8c8d", shape="hv")), row=3, col=1)
        fig.update_layout(height=620)
        fig.update_xaxes(title_text=tr("lt_seconds"), ticksuffix=" s", row=3, col=1)
        fig.update_yaxes(ticksuffix=" ms", tickformat=",", rangemode="tozero", row=1, col=1)
        fig.update_yaxes(rangemode="tozero", row=2, col=1)
        fig.update_yaxes(rangemode="tozero", tickformat=",d", row=3, col=1)
        common.chart(fig, key="lt_series_chart")

with common.guard():
    cap = common.query("loadtest_capacity", run_id=rid).to_dicts()
    if cap:
        st.subheader(tr("lt_capacity"))
        knee = next((c for c in cap if c["is_knee"]), None)
        k = st.columns(3)
        k[0].metric(tr("lt_knee_users"), num(run["knee_users"], L), border=True)
        k[1].metric(tr("lt_capacity_users"), num(run["capacity_users"], L), border=True)
        k[2].metric(tr("lt_capacity_rps"), unit(run["capacity_rps"], "req/s", L, 1), border=True)
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        users = [c["users"] for c in cap]
        fig.add_trace(go.Scatter(x=users, y=[c["p50_ms"] for c in cap], name="p50 (ms)", mode="lines+markers",
                                 line=dict(color="#1f5fa8")))
        fig.add_trace(go.Scatter(x=users, y=[c["p95_ms"] for c in cap], name="p95 (ms)", mode="lines+markers",
                                 line=dict(color="#e67e22")))
        fig.add_trace(go.Scatter(x=users, y=[c["rps"] for c in cap], name="req/s", mode="lines+markers",
                                 line=dict(color="#16a085", dash="dot")), secondary_y=True)
        if knee is not None:
            fig.add_vline(x=knee["users"], line_dash="dash", line_color="#c0392b",
                          annotation_text=tr("lt_knee_at", users=knee["users"]), annotation_position="top left")
        fig.update_layout(height=380)
        fig.update_xaxes(title_text=tr("lt_users"))
        fig.update_yaxes(title_text="ms", secondary_y=False, rangemode="tozero", ticksuffix=" ms", tickformat=",")
        fig.update_yaxes(title_text="req/s", secondary_y=True, rangemode="tozero", showgrid=False, tickformat=".0f")
        common.chart(fig, key="lt_capacity_chart")
        if knee is None:
            st.info(tr("lt_no_knee"))
        common.dataframe(pd.DataFrame([{
            tr("lt_col_step"): c["step"], tr("lt_users"): c["users"], tr("lt_col_planned"): c["planned_users"],
            "req/s": c["rps"], "p50 (ms)": c["p50_ms"], "p95 (ms)": c["p95_ms"], "p99 (ms)": c["p99_ms"],
            tr("lt_col_error_rate"): c["error_rate"], tr("lt_col_knee"): "◆" if c["is_knee"] else " "} for c in cap]),
            {"req/s": "dec1", tr("lt_col_error_rate"): "pct2", **{f"{p} (ms)": "int" for p in ("p50", "p95", "p99")}},
            hide_index=True, key="lt_capacity_table")

with common.guard():
    st.subheader(tr("lt_failures"))
    fs = common.query("loadtest_failures", run_id=rid).to_dicts()
    if not fs:
        st.success(tr("lt_no_failures"), icon=":material/check:")
    else:
        common.dataframe(pd.DataFrame([{
            tr("lt_col_endpoint"): endpoint_label(f["method"], f["name"]), tr("lt_col_error"): probe_reason(f["error"], L),
            tr("lt_col_occurrences"): f["occurrences"], tr("lt_col_first"): f["first_t_s"]} for f in fs]),
            {tr("lt_col_first"): "s"}, hide_index=True, key="lt_failures_table",
            column_config={tr("lt_col_error"): st.column_config.TextColumn(width="large")})

# -- comparison of two runs -------------------------------------------------------------------------
with common.guard():
    st.divider()
    st.subheader(tr("lt_compare"))
    st.caption(tr("lt_compare_help"))
    cands = [r for r in common.query("loadtest_runs", limit=200, scenario=run["scenario"]).to_dicts()
             if r["status"] != "refused" and r["requests"]]
    if len(cands) < 2:
        st.info(tr("lt_compare_needs_two", scenario=run["scenario"]))
        raise common.PageStop()
    ids = [r["run_id"] for r in cands]
    labels = {r["run_id"]: run_label(r) for r in cands}
    b_default = ids.index(rid) if rid in ids else 0
    others = [i for i in ids if i != ids[b_default]]
    release_of = {r["run_id"]: r["release"] for r in cands}
    # baseline: the latest run of another release (else the latest other run)
    a_default = next((i for i in others if release_of[i] != release_of[ids[b_default]]), others[0])
    c1, c2 = st.columns(2)
    run_a = c1.selectbox(tr("lt_run_a"), ids, index=ids.index(a_default), key="lt_cmp_a", format_func=labels.get)
    run_b = c2.selectbox(tr("lt_run_b"), ids, index=b_default, key="lt_cmp_b", format_func=labels.get)
    if run_a == run_b:
        st.info(tr("lt_compare_same"))
        raise common.PageStop()
    cmp = common.query("loadtest_compare", run_a=run_a, run_b=run_b).to_dicts()
    if not cmp:
        st.info(tr("lt_compare_nothing"))
        raise common.PageStop()
    per: dict[tuple[str, str], dict] = {}
    for c in cmp:
        e = per.setdefault((c["method"], c["name"]), {"kind": c["kind"], "m": {}})
        e["m"][c["metric"]] = c
    regressed = [k for k, e in per.items() if any(c["worse"] for c in e["m"].values())]
    names = {m: tr(f"lt_metric_{m}") for m in COMPARED}
    rows = []
    for (method, name), e in per.items():
        row = {tr("lt_col_endpoint"): endpoint_label(method, name)}
        for m in COMPARED:
            c = e["m"].get(m) or {}
            row[f"{names[m]} A"] = c.get("a")
            row[f"{names[m]} B"] = c.get("b")
            row[f"Δ {names[m]}"] = None if c.get("change_pct") is None else c["change_pct"] / 100
        row[tr("lt_col_beyond_noise")] = ", ".join(names[m] for m in COMPARED if (e["m"].get(m) or {}).get("beyond_noise"))
        row[tr("lt_col_regressed")] = ", ".join(names[m] for m in COMPARED if (e["m"].get(m) or {}).get("worse"))
        rows.append(row)
    df = pd.DataFrame(rows)
    reg_col = tr("lt_col_regressed")

    def highlight(r):
        return ["background-color: #fde2e1" if r[reg_col] else ""] * len(r)

    fmt = {**{f"{names[m]} {s}": formatter("int", L) for m in COMPARED[:3] for s in "AB"},
           **{f"{names['rps']} {s}": formatter("dec2", L) for s in "AB"},
           **{f"{names['error_rate']} {s}": formatter("pct2", L) for s in "AB"},
           **{f"Δ {names[m]}": formatter("signed_pct", L) for m in COMPARED}}
    if regressed:
        st.error(tr("lt_regressed", n=len(regressed), names=", ".join(endpoint_label(*k) for k in regressed)),
                 icon=":material/trending_down:")
    else:
        st.success(tr("lt_no_regression"), icon=":material/check_circle:")
    st.dataframe(common.styled(df).apply(highlight, axis=1).format(fmt, na_rep="–"), hide_index=True,
                 key="lt_compare_table")
    fig = go.Figure()
    eps = [k for k in per if k[1] != "*"]
    xs = [endpoint_label(*k) for k in eps]
    fig.add_trace(go.Bar(x=xs, y=[per[k]["m"]["p95_ms"]["a"] for k in eps], name="A · p95 (ms)", marker_color="#1f5fa8"))
    fig.add_trace(go.Bar(x=xs, y=[per[k]["m"]["p95_ms"]["b"] for k in eps], name="B · p95 (ms)",
                         marker_color=["#c0392b" if k in regressed else "#e67e22" for k in eps]))
    fig.update_layout(barmode="group", height=360, yaxis=dict(title="ms", ticksuffix=" ms", tickformat=",", rangemode="tozero"))
    common.chart(fig, key="lt_compare_chart", legend_y=1.12)  # above: the endpoint names run long
    with st.expander(tr("lt_compare_detail")):
        detail = pd.DataFrame([{
            tr("lt_col_endpoint"): endpoint_label(c["method"], c["name"]), tr("lt_col_metric"): names[c["metric"]],
            "A": _value(c["metric"], c["a"]), "B": _value(c["metric"], c["b"]),
            tr("lt_col_change"): _change(c["metric"], c["change"]), "p": num(c["p_value"], L, 4),
            tr("lt_col_verdict"): tr(f"lt_cmp_{c['verdict']}")} for c in cmp])
        common.dataframe(detail, hide_index=True, key="lt_compare_detail_table")
