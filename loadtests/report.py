"""The HTML report of one load-test run: charts (Plotly, its JavaScript embedded: opens offline)
and tables, built only from the store's named queries (store/loadtest_queries.py), so the report,
the dashboard and `app.py query` always show the same numbers.

    write_report(ops, run_id, path, lang="vi")   # ops: Motcua or RemoteOps
"""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

LABELS = {
    "vi": {
        "title": "Báo cáo kiểm thử tải", "scenario": "Kịch bản", "release": "Phiên bản", "target": "Địa chỉ thử",
        "status": "Trạng thái", "started": "Bắt đầu", "users": "Người dùng", "rps": "Yêu cầu/giây",
        "requests": "Số yêu cầu", "failures": "Lỗi", "error_rate": "Tỷ lệ lỗi", "latency": "Thời gian phản hồi (ms)",
        "throughput": "Người dùng và thông lượng", "percentiles": "Phân vị thời gian phản hồi (mọi yêu cầu)",
        "per_endpoint": "p95 theo chức năng", "errors_time": "Lỗi theo thời gian", "cpu": "CPU của bộ sinh tải",
        "capacity": "Năng lực chịu tải (chạy bậc thang)", "endpoints": "Theo chức năng", "verdicts": "Tiêu chí nghiệm thu",
        "failure_list": "Thông báo lỗi", "pass": "ĐẠT", "fail": "KHÔNG ĐẠT", "none": "không có tiêu chí",
        "overloaded": "Bộ sinh tải bị quá tải: số đo thời gian phản hồi không chỉ phản ánh cổng.",
        "knee": "Điểm gãy", "held": "Số người dùng duy trì", "observed": "Đo được", "expression": "Điều kiện",
        "endpoint": "Chức năng", "occurrences": "Số lần", "message": "Thông báo", "time": "Thời gian (s)",
        "limit": "ngưỡng", "verdict": "Kết luận", "no_data": "Không có số liệu.",
        "all": "(mọi yêu cầu)", "config": "Cấu hình kịch bản", "shape": "Dạng tải", "user_class": "Nhóm người dùng",
        "weight": "Trọng số", "task": "Tác vụ", "mix": "Tỷ lệ", "kind": "Loại", "think": "Thời gian nghỉ", "capacity_text": "Độ trễ rời khỏi mức nền ở {knee} người dùng; cổng chịu được {cap} người dùng với {rps:.1f} yêu cầu/giây.",
    },
    "en": {
        "title": "Load-test report", "scenario": "Scenario", "release": "Release", "target": "Target",
        "status": "Status", "started": "Started", "users": "Users", "rps": "Requests/s",
        "requests": "Requests", "failures": "Failures", "error_rate": "Error rate", "latency": "Response time (ms)",
        "throughput": "Users and throughput", "percentiles": "Response-time percentiles (all requests)",
        "per_endpoint": "p95 per endpoint", "errors_time": "Failures over time", "cpu": "Load generator CPU",
        "capacity": "Capacity (step run)", "endpoints": "Per endpoint", "verdicts": "Acceptance criteria",
        "failure_list": "Failure messages", "pass": "PASS", "fail": "FAIL", "none": "no criteria",
        "overloaded": "The load generator was overloaded: latency figures are not the portal's alone.",
        "knee": "Knee", "held": "Users held", "observed": "Observed", "expression": "Criterion",
        "endpoint": "Endpoint", "occurrences": "Occurrences", "message": "Message", "time": "Time (s)",
        "limit": "limit", "verdict": "Verdict", "no_data": "No data.",
        "all": "(all requests)", "config": "Scenario configuration", "shape": "Shape", "user_class": "User class",
        "weight": "Weight", "task": "Task", "mix": "Share", "kind": "Kind", "think": "Think time", "capacity_text": "Latency left its plateau at {knee} users; the portal held {cap} users at {rps:.1f} requests/s.",
    },
}


def _fmt(v: Any, metric: str = "") -> str:
    if v is None:
        return "–"
    if metric == "error_rate":
        return f"{100 * v:.2f} %"
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) < 1e6 else f"{v:,.0f}"
    return html.escape(str(v))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def build_html(ops, run_id: str, lang: str = "vi") -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    L = LABELS.get(lang, LABELS["vi"])
    run = ops.query("loadtest_run", run_id=run_id).one()
    if run is None:
        raise ValueError(f"no load-test run {run_id!r}")
    series = ops.query("loadtest_series", run_id=run_id, endpoint="*all").to_dicts()
    agg = [r for r in series if r["name"] == "*"]
    per = [r for r in series if r["name"] != "*"]
    gen = ops.query("loadtest_generator", run_id=run_id).to_dicts()
    cap = ops.query("loadtest_capacity", run_id=run_id).to_dicts()
    ends = ops.query("loadtest_endpoints", run_id=run_id).to_dicts()
    verdicts = ops.query("loadtest_verdicts", run_id=run_id).to_dicts()
    fails = ops.query("loadtest_failures", run_id=run_id).to_dicts()
    figs: list[Any] = []
    t = [r["t_s"] for r in agg]
    if agg:
        f = make_subplots(specs=[[{"secondary_y": True}]])
        f.add_trace(go.Scatter(x=t, y=[r["rps"] for r in agg], name=L["rps"], mode="lines"), secondary_y=False)
        f.add_trace(go.Scatter(x=t, y=[r["users"] for r in agg], name=L["users"], mode="lines",
                               line={"dash": "dot"}), secondary_y=True)
        f.update_layout(title=L["throughput"], xaxis_title=L["time"])
        f.update_yaxes(title_text=L["rps"], secondary_y=False)
        f.update_yaxes(title_text=L["users"], secondary_y=True)
        figs.append(f)
        f = go.Figure()
        for q in ("p50_ms", "p95_ms", "p99_ms"):
            f.add_trace(go.Scatter(x=t, y=[r[q] for r in agg], name=q.replace("_ms", ""), mode="lines"))
        f.update_layout(title=L["percentiles"], xaxis_title=L["time"], yaxis_title=L["latency"])
        figs.append(f)
        f = go.Figure()
        names = sorted({(r["method"], r["name"]) for r in per}, key=lambda k: k[1])
        for m, n in names:
            rows = [r for r in per if r["name"] == n and r["method"] == m]
            f.add_trace(go.Scatter(x=[r["t_s"] for r in rows], y=[r["p95_ms"] for r in rows],
                                   name=f"{n}" if m != "JOURNEY" else f"{n} (journey)", mode="lines+markers"))
        f.update_layout(title=L["per_endpoint"], xaxis_title=L["time"], yaxis_title=L["latency"])
        figs.append(f)
        f = go.Figure()
        f.add_trace(go.Bar(x=t, y=[r["failures"] for r in agg], name=L["failures"]))
        f.update_layout(title=L["errors_time"], xaxis_title=L["time"], yaxis_title=L["failures"])
        figs.append(f)
    if gen:
        f = go.Figure()
        limit = None
        try:
            limit = json.loads(run.get("config_json") or "{}").get("generator", {}).get("cpu_limit")
        except ValueError:
            pass
        for node in sorted({g["node"] for g in gen}):
            rows = [g for g in gen if g["node"] == node]
            f.add_trace(go.Scatter(x=[g["t_s"] for g in rows], y=[g["cpu_pct"] for g in rows], name=node,
                                   mode="lines"))
        if limit:
            f.add_hline(y=limit, line_dash="dash", annotation_text=f"{L['limit']} {limit:g} %")
        f.update_layout(title=L["cpu"], xaxis_title=L["time"], yaxis_title="CPU %")
        figs.append(f)
    if cap:
        f = make_subplots(specs=[[{"secondary_y": True}]])
        u = [c["users"] for c in cap]
        f.add_trace(go.Scatter(x=u, y=[c["rps"] for c in cap], name=L["rps"], mode="lines+markers"),
                    secondary_y=False)
        f.add_trace(go.Scatter(x=u, y=[c["p95_ms"] for c in cap], name="p95 (ms)", mode="lines+markers"),
                    secondary_y=True)
        f.add_trace(go.Scatter(x=u, y=[c["p50_ms"] for c in cap], name="p50 (ms)", mode="lines+markers"),
                    secondary_y=True)
        for c in cap:
            if c["is_knee"]:
                f.add_vline(x=c["users"], line_dash="dash", annotation_text=L["knee"])
        f.update_layout(title=L["capacity"], xaxis_title=L["users"])
        f.update_yaxes(title_text=L["rps"], secondary_y=False)
        f.update_yaxes(title_text=L["latency"], secondary_y=True)
        figs.append(f)
    charts = []
    for i, f in enumerate(figs):
        f.update_layout(height=380, margin={"l": 60, "r": 30, "t": 50, "b": 50}, template="plotly_white")
        charts.append(f.to_html(full_html=False, include_plotlyjs=(i == 0)))
    verdict = run.get("verdict") or "none"
    head_rows = [[L["scenario"], _fmt(run["scenario"])], [L["release"], _fmt(run["release"])],
                 [L["target"], _fmt(run["target"])], [L["status"], _fmt(run["status"]) +
                                                      (f" — {_fmt(run['message'])}" if run.get("message") else "")],
                 [L["started"], _fmt(run["started_at"])], [L["users"], f"{_fmt(run['users_peak'])} / {_fmt(run['users_target'])}"],
                 [L["requests"], _fmt(run["requests"])], [L["rps"], _fmt(run["rps"])],
                 [L["error_rate"], _fmt(run["error_rate"], "error_rate")],
                 ["p50 / p95 / p99 (ms)", f"{_fmt(run['p50_ms'])} / {_fmt(run['p95_ms'])} / {_fmt(run['p99_ms'])}"],
                 [L["cpu"], f"max {_fmt(run['generator_cpu_max'])} %"],
                 [L["verdict"], f"<b class='{verdict}'>{L.get(verdict, verdict)}</b>"]]
    parts = [f"<h1>{L['title']} {html.escape(run_id)}</h1>", _table(["", ""], head_rows)]
    if run.get("generator_overloaded"):
        parts.append(f"<p class='warn'>{L['overloaded']}</p>")
    if run.get("knee_users") is not None:
        parts.append("<p>" + L["capacity_text"].format(knee=run["knee_users"], cap=run["capacity_users"],
                                                       rps=run["capacity_rps"] or 0) + "</p>")
    if verdicts:
        parts.append(f"<h2>{L['verdicts']}</h2>")
        parts.append(_table(["", L["expression"], L["endpoint"], L["observed"], L["held"], ""], [
            [f"<b class='{'pass' if v['passed'] else 'fail'}'>{L['pass'] if v['passed'] else L['fail']}</b>",
             html.escape(f"{v['criterion']}: {v['expression']}"),
             L["all"] if v["name"] == "*" else html.escape(v["name"]),
             _fmt(v["observed"], v["metric"]), _fmt(v["at_users"]), _fmt(v["note"]) if v["note"] else ""]
            for v in verdicts]))
    parts.append("".join(f"<div class='chart'>{c}</div>" for c in charts) or f"<p>{L['no_data']}</p>")
    if ends:
        parts.append(f"<h2>{L['endpoints']}</h2>")
        parts.append(_table([L["endpoint"], L["requests"], L["failures"], L["error_rate"], L["rps"], "p50", "p95",
                             "p99", "max"], [
            [L["all"] if e["kind"] == "aggregate" else html.escape(e["name"] + (" (journey)" if e["kind"] == "journey"
                                                                               else "")), _fmt(e["requests"]),
             _fmt(e["failures"]), _fmt(e["error_rate"], "error_rate"), _fmt(e["rps"]), _fmt(e["p50_ms"]),
             _fmt(e["p95_ms"]), _fmt(e["p99_ms"]), _fmt(e["max_ms"])] for e in ends]))
    try:
        conf = json.loads(run.get("config_json") or "{}")
    except ValueError:
        conf = {}
    if conf.get("user_classes"):
        parts.append(f"<h2>{L['config']}</h2>")
        rows = []
        for uc in conf["user_classes"]:
            w = uc.get("wait") or {}
            wait = (f"{w['constant']:g} s" if w.get("constant") is not None else
                    f"pacing {w['pacing']:g} s" if w.get("pacing") is not None else
                    f"{w['between'][0]:g}–{w['between'][1]:g} s" if w.get("between") else "")
            total = sum(t["weight"] for t in uc["tasks"]) or 1
            for t in uc["tasks"]:
                rows.append([html.escape(uc["name"]), _fmt(uc.get("weight")), html.escape(t["name"]),
                             f"{100 * t['weight'] / total:.0f} %", html.escape(t["kind"]), wait])
        shape = conf.get("shape") or {}
        parts.append(f"<p>{L['shape']}: {html.escape(str(shape.get('kind', '')))}, {_fmt(conf.get('users'))} "
                     f"{L['users'].lower()}, {_fmt(conf.get('duration_s'))} s; {html.escape(str(conf.get('portal', '')))}</p>")
        parts.append(_table([L["user_class"], L["weight"], L["task"], L["mix"], L["kind"], L["think"]], rows))
    if fails:
        parts.append(f"<h2>{L['failure_list']}</h2>")
        parts.append(_table([L["endpoint"], L["message"], L["occurrences"]], [
            [html.escape(f["name"]), html.escape(f["error"]), _fmt(f["occurrences"])] for f in fails[:100]]))
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;"
             "margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.pass{color:#17803d}"
             ".fail{color:#b91c1c}.warn{background:#fef3c7;padding:8px}.chart{margin:1em 0}")
    return (f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'><title>{L['title']} "
            f"{html.escape(run_id)}</title><style>{style}</style></head><body>{''.join(parts)}</body></html>")


def write_report(ops, run_id: str, path: Path | str, lang: str = "vi") -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(build_html(ops, run_id, lang), encoding="utf-8")
    tmp.replace(p)
    return p
