"""The HTML report of one load-test run: charts (Plotly, its JavaScript embedded: opens offline)
and tables, built only from the store's named queries (store/loadtest_queries.py), so the report,
the dashboard and `app.py query` always show the same numbers.

    write_report(ops, run_id, path, lang="vi")   # ops: Motcua or RemoteOps

In Vietnamese every number is written the Vietnamese way (thousands dots, decimal comma: "3.251",
"1.900 ms", "89,66 %"), in the text and in the charts (Plotly's separators and a Vietnamese
dictionary for its toolbar), and what the runner and the analysis stored in English (statuses,
run messages, verdict notes) is said in Vietnamese. The failure messages are the checks' own
(steps/checks.py, evaluate) and are shown as they were recorded.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path
from typing import Any

from config.numbers import number

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
        "weight": "Trọng số", "task": "Tác vụ", "mix": "Tỷ lệ", "kind": "Loại", "think": "Thời gian nghỉ", "capacity_text": "Độ trễ rời khỏi mức nền ở {knee} người dùng; cổng chịu được {cap} người dùng với {rps} yêu cầu/giây.",
        "journey": "hành trình", "max": "tối đa", "every_request": "từng chức năng", "pacing": "nhịp {s}", "seconds": "{s} s", "of": "trên",
        "status_running": "đang chạy", "status_completed": "hoàn thành", "status_interrupted": "bị dừng",
        "status_failed": "lỗi khi chạy", "status_refused": "bị từ chối",
        "kind_check": "kiểm tra", "kind_journey": "hành trình",
        "shape_ramp": "tăng dần", "shape_steady": "ổn định", "shape_step": "bậc thang", "shape_spike": "đột biến",
        "shape_working_day": "ngày làm việc",
        "node_master": "tiến trình điều phối", "node_local": "tiến trình sinh tải", "node_worker": "tiến trình con {n}",
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
        "weight": "Weight", "task": "Task", "mix": "Share", "kind": "Kind", "think": "Think time", "capacity_text": "Latency left its plateau at {knee} users; the portal held {cap} users at {rps} requests/s.",
        "journey": "journey", "max": "max", "every_request": "each endpoint", "pacing": "pacing {s}", "seconds": "{s} s", "of": "of",
        "status_running": "running", "status_completed": "completed", "status_interrupted": "interrupted",
        "status_failed": "failed", "status_refused": "refused",
        "kind_check": "check", "kind_journey": "journey",
        "shape_ramp": "ramp", "shape_steady": "steady", "shape_step": "step", "shape_spike": "spike",
        "shape_working_day": "working day",
        "node_master": "master", "node_local": "local", "node_worker": "worker {n}",
    },
}
LANGUAGES = {"vi": "Vietnamese", "en": "English"}

# What loadtests/runner.py and loadtests/analysis.py store in English (run messages, verdict notes),
# in Vietnamese; a message that matches none is shown as stored
MESSAGES_VI = [
    (r"interrupted by the operator \(Ctrl-C\)", "người vận hành đã dừng lần chạy (Ctrl-C)"),
    (r"the target stopped answering (\d+) s into the run \(every request failed from then on\)",
     "cổng ngừng trả lời sau {0} s (từ đó mọi yêu cầu đều lỗi)"),
    (r"every request failed \(most often: (.*)\)", "mọi yêu cầu đều lỗi (thường gặp nhất: {0})"),
    (r"Locust did not finish within (\d+) s", "Locust không kết thúc trong {0} s"),
    (r"could not start Locust: (.*)", "không khởi động được Locust: {0}"),
    (r"Locust stopped before the end of the run(: .*?)? \(log: (.*)\)",
     "Locust dừng trước khi hết thời gian chạy{0} (nhật ký: {1})"),
    (r"target (.*) refused: host (\S+) is not on the load-test allowlist .*",
     "địa chỉ {0} bị từ chối: máy {1} không nằm trong danh sách được phép kiểm thử tải"),
    (r"target (.*) is not a URL \(example: (.*)\)", "địa chỉ {0} không phải là một URL (ví dụ: {1})"),
    (r"target (.*) is not an http\(s\) URL \(example: (.*)\)",
     "địa chỉ {0} không phải là một URL http(s) (ví dụ: {1})"),
    (r"task (.*), step (.*): (\S+) is not on the load-test allowlist .*",
     "tác vụ {0}, bước {1}: {2} không nằm trong danh sách được phép kiểm thử tải"),
    (r"the run reached (\d+) users, the criterion needs (\d+)", "lần chạy đạt {0} người dùng, tiêu chí cần {1}"),
    (r"no interval with users running", "không có khoảng thời gian nào có người dùng"),
    (r"no request matched this selector", "không có yêu cầu nào khớp bộ chọn này"),
    (r"no requests in the judged window", "không có yêu cầu nào trong khoảng được đánh giá"),
]
_MESSAGES_VI = [(re.compile(p, re.S), vi) for p, vi in MESSAGES_VI]

# Plotly's own words (its toolbar and notices) in Vietnamese, and the Vietnamese separators
PLOTLY_VI = {
    "Download plot as a PNG": "Tải biểu đồ (PNG)", "Download plot": "Tải biểu đồ", "Zoom": "Phóng to vùng",
    "Pan": "Kéo", "Box Select": "Chọn theo hộp", "Lasso Select": "Chọn tự do", "Zoom in": "Phóng to",
    "Zoom out": "Thu nhỏ", "Autoscale": "Tự co giãn", "Reset axes": "Đặt lại trục",
    "Toggle Spike Lines": "Bật/tắt đường dóng", "Show closest data on hover": "Hiện điểm gần nhất",
    "Compare data on hover": "So sánh các điểm", "Double-click to zoom back out": "Nhấp đúp để thu về",
    "Double-click on legend to isolate one trace": "Nhấp đúp vào chú giải để chỉ xem một đường",
    "Preparing image - this may take a few seconds": "Đang tạo ảnh, xin chờ vài giây",
    "Image download succeeded": "Đã tải ảnh",
    "Sorry, there was a problem downloading your image!": "Không tải được ảnh.",
}



class Fmt:
    """Numbers, times and stored words in one language: Vietnamese thousands dots and decimal
    comma ("3.251", "1.900 ms", "89,66 %"), or English ("3,251", "1,900 ms", "89.66 %")."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LABELS else "vi"
        self.L = LABELS[self.lang]

    def num(self, v: Any, digits: int = 0) -> str:
        return "–" if v is None else number(float(v), digits, "vi" if self.lang == "vi" else "en")

    def dec(self, v: Any) -> str:
        """Up to three decimals, none shown when whole: 0.5 → "0,5", 2.0 → "2"."""
        if v is None:
            return "–"
        digits = next((d for d in range(4) if abs(round(float(v), d) - float(v)) < 1e-9), 3)
        return self.num(v, digits)

    def count(self, v: Any) -> str:
        return self.num(v)

    def ms(self, v: Any) -> str:
        return "–" if v is None else f"{self.num(v)} ms"

    def pct(self, ratio: Any, digits: int = 2) -> str:
        return "–" if ratio is None else f"{self.num(100 * float(ratio), digits)} %"

    def rps(self, v: Any) -> str:
        return self.num(v, 1)

    def secs(self, v: Any) -> str:
        return self.L["seconds"].format(s=self.dec(v))

    def when(self, v: Any) -> str:
        if v is None:
            return "–"
        if isinstance(v, str):
            try:
                v = dt.datetime.fromisoformat(v)
            except ValueError:
                return html.escape(v)
        return v.strftime("%H:%M:%S %d/%m/%Y") if self.lang == "vi" else v.strftime("%Y-%m-%d %H:%M:%S")

    def observed(self, v: Any, metric: str) -> str:
        if metric == "error_rate":
            return self.pct(v)
        if metric == "rps":
            return "–" if v is None else f"{self.rps(v)}/s"
        return self.ms(v)

    def word(self, prefix: str, v: Any) -> str:
        return html.escape(self.L.get(f"{prefix}_{v}", str(v)))

    def node(self, name: str) -> str:
        m = re.fullmatch(r"worker-(\d+)", name)
        return self.L["node_worker"].format(n=m.group(1)) if m else self.L.get(f"node_{name}", name)

    def verdict_target(self, v: dict[str, Any]) -> str:
        """What a verdict row judged: an endpoint, all requests, or (nothing matched) its selector."""
        name = v["name"]
        if name == "*":
            return self.L["all"]
        if not v.get("method") and name == v.get("selector"):
            if name == "requests":
                return self.L["every_request"]
            if name.startswith("journey:"):
                return f"{self.L['journey']} {html.escape(name[len('journey:'):])}"
        return html.escape(name)

    def message(self, text: Any) -> str:
        """A message the runner or the analysis stored, in this language, HTML-escaped."""
        text = "" if text is None else str(text)
        if self.lang == "vi":
            for rx, vi in _MESSAGES_VI:
                m = rx.fullmatch(text.strip())
                if m:
                    return html.escape(vi.format(*(g or "" for g in m.groups())))
        return html.escape(text)

    def plotly_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"displaylogo": False}
        if self.lang == "vi":
            config.update(locale="vi", locales={"vi": {"dictionary": PLOTLY_VI,
                                                       "format": {"decimal": ",", "thousands": "."}}})
        return config

    @property
    def separators(self) -> str:
        """Plotly's layout.separators: the decimal mark, then the thousands mark."""
        return ",." if self.lang == "vi" else ".,"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def report_name(lang: str) -> str:
    """The run folder's report file in `lang`: report.html (Vietnamese), report.en.html, ..."""
    return "report.html" if lang == "vi" else f"report.{lang}.html"


def build_html(ops, run_id: str, lang: str = "vi") -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    F = Fmt(lang)
    L, lang = F.L, F.lang
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
                                   name=f"{n}" if m != "JOURNEY" else f"{n} ({L['journey']})", mode="lines+markers"))
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
            f.add_trace(go.Scatter(x=[g["t_s"] for g in rows], y=[g["cpu_pct"] for g in rows], name=F.node(node),
                                   mode="lines"))
        if limit:
            f.add_hline(y=limit, line_dash="dash", annotation_text=f"{L['limit']} {F.dec(limit)} %")
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
        f.update_layout(height=380, margin={"l": 60, "r": 30, "t": 50, "b": 50}, template="plotly_white",
                        separators=F.separators)
        charts.append(f.to_html(full_html=False, include_plotlyjs=(i == 0), config=F.plotly_config()))
    verdict = run.get("verdict") or "none"
    status = F.word("status", run["status"]) + (f" — {F.message(run['message'])}" if run.get("message") else "")
    head_rows = [[L["scenario"], html.escape(str(run["scenario"]))], [L["release"], html.escape(str(run["release"]))],
                 [L["target"], html.escape(str(run["target"]))], [L["status"], status],
                 [L["started"], F.when(run["started_at"])],
                 [L["users"], f"{F.count(run['users_peak'])} / {F.count(run['users_target'])}"],
                 [L["requests"], F.count(run["requests"])], [L["rps"], F.rps(run["rps"])],
                 [L["error_rate"], F.pct(run["error_rate"])],
                 ["p50 / p95 / p99", f"{F.ms(run['p50_ms'])} / {F.ms(run['p95_ms'])} / {F.ms(run['p99_ms'])}"],
                 [L["cpu"], f"{L['max']} {F.num(run['generator_cpu_max'], 1)} %"],
                 [L["verdict"], f"<b class='{verdict}'>{L.get(verdict, verdict)}</b>"]]
    parts = [f"<h1>{L['title']} {html.escape(run_id)}</h1>", _table(["", ""], head_rows)]
    if run.get("generator_overloaded"):
        parts.append(f"<p class='warn'>{L['overloaded']}</p>")
    if run.get("knee_users") is not None:
        parts.append("<p>" + L["capacity_text"].format(knee=F.count(run["knee_users"]),
                                                       cap=F.count(run["capacity_users"]),
                                                       rps=F.rps(run["capacity_rps"] or 0)) + "</p>")
    if verdicts:
        parts.append(f"<h2>{L['verdicts']}</h2>")
        parts.append(_table(["", L["expression"], L["endpoint"], L["observed"], L["held"], ""], [
            [f"<b class='{'pass' if v['passed'] else 'fail'}'>{L['pass'] if v['passed'] else L['fail']}</b>",
             html.escape(f"{v['criterion']}: {v['expression']}"),
             F.verdict_target(v), F.observed(v["observed"], v["metric"]), F.count(v["at_users"]),
             F.message(v["note"]) if v["note"] else ""]
            for v in verdicts]))
    parts.append("".join(f"<div class='chart'>{c}</div>" for c in charts) or f"<p>{L['no_data']}</p>")
    if ends:
        parts.append(f"<h2>{L['endpoints']}</h2>")
        parts.append(_table([L["endpoint"], L["requests"], L["failures"], L["error_rate"], L["rps"], "p50", "p95",
                             "p99", L["max"]], [
            [L["all"] if e["kind"] == "aggregate" else html.escape(e["name"]) + (
                f" ({L['journey']})" if e["kind"] == "journey" else ""), F.count(e["requests"]),
             F.count(e["failures"]), F.pct(e["error_rate"]), F.rps(e["rps"]), F.ms(e["p50_ms"]),
             F.ms(e["p95_ms"]), F.ms(e["p99_ms"]), F.ms(e["max_ms"])] for e in ends]))
    try:
        conf = json.loads(run.get("config_json") or "{}")
    except ValueError:
        conf = {}
    if conf.get("user_classes"):
        parts.append(f"<h2>{L['config']}</h2>")
        rows = []
        for uc in conf["user_classes"]:
            w = uc.get("wait") or {}
            wait = (F.secs(w["constant"]) if w.get("constant") is not None else
                    L["pacing"].format(s=F.secs(w["pacing"])) if w.get("pacing") is not None else
                    L["seconds"].format(s=f"{F.dec(w['between'][0])}–{F.dec(w['between'][1])}") if w.get("between")
                    else "")
            total = sum(t["weight"] for t in uc["tasks"]) or 1
            for t in uc["tasks"]:
                rows.append([html.escape(uc["name"]), F.count(uc.get("weight")), html.escape(t["name"]),
                             F.pct(t["weight"] / total, 0), F.word("kind", t["kind"]), wait])
        shape = conf.get("shape") or {}
        parts.append(f"<p>{L['shape']}: {F.word('shape', shape.get('kind', ''))}, {F.count(conf.get('users'))} "
                     f"{L['users'].lower()}, {F.secs(conf.get('duration_s'))}; "
                     f"{html.escape(str(conf.get('portal', '')))}</p>")
        parts.append(_table([L["user_class"], L["weight"], L["task"], L["mix"], L["kind"], L["think"]], rows))
    if fails:
        parts.append(f"<h2>{L['failure_list']}</h2>")
        parts.append(_table([L["endpoint"], L["message"], L["occurrences"]], [
            [html.escape(f["name"]), html.escape(f["error"]), F.count(f["occurrences"])] for f in fails[:100]]))
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
