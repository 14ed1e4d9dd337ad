"""The briefing's charts as PNG images (matplotlib, DejaVu Sans: Vietnamese glyphs).

Figures are made with matplotlib's object API (`Figure`, no pyplot state), so charts drawn at the
same time in several threads (the scheduler, the dashboard's sessions) do not meet.
"""
from __future__ import annotations

import io
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from config.numbers import number

DPI = 150
STYLE = ({"font.family": "DejaVu Sans", "font.size": 9, "axes.spines.top": False,
                     "axes.spines.right": False})


def _figure(w: float, h: float):
    fig = Figure(figsize=(w, h))
    return fig, fig.subplots()


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def _thousands(x: float, _pos: Any = None) -> str:
    return number(int(x))


def _pct(x: float, _pos: Any = None) -> str:
    return f"{number(x)} %"


def trend(series: list[dict[str, Any]]) -> bytes:
    """Resolved dossiers (in time / overdue, stacked) and the on-time ratio over 12 months."""
    labels = [f"{r['month'].month:02d}/{r['month'].year % 100:02d}" for r in series]
    good = [int(r["resolved_early"] or 0) + int(r["resolved_on_time"] or 0) for r in series]
    late = [int(r["resolved_overdue"] or 0) for r in series]
    ratio = [None if r["on_time_ratio"] is None else 100 * r["on_time_ratio"] for r in series]
    fig, ax = _figure(7.5, 3.2)
    ax.bar(labels, good, color="#4c78a8", label="Giải quyết trước và đúng hạn")
    ax.bar(labels, late, bottom=good, color="#e45756", label="Giải quyết quá hạn")
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_ylabel("Hồ sơ")
    ax2 = ax.twinx()
    ax2.plot([lb for lb, v in zip(labels, ratio) if v is not None], [v for v in ratio if v is not None],
             color="#222222", marker="o", label="Tỷ lệ đúng hạn")
    ax2.set_ylim(0, 105)
    ax2.yaxis.set_major_formatter(FuncFormatter(_pct))
    return _png(_with_twin_legend(fig, ax, ax2))



def _with_twin_legend(fig, ax, ax2):
    """One legend under the plot for a chart with two y axes (bars on the left, a line on the right)."""
    ax2.spines["right"].set_visible(True)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper center", bbox_to_anchor=(0.5, -0.16 if ax.get_xlabel() else -0.1),
              ncol=3, fontsize=8, frameon=False)
    return fig

def ranking(rows: list[dict[str, Any]], n: int = 15) -> bytes:
    """The n agencies with the lowest on-time ratio (horizontal bars)."""
    worst = sorted(rows, key=lambda r: (r["on_time_ratio"] or 0, -(r["resolved_total"] or 0)))[:n]
    worst.reverse()
    names = [_short(r["name"] or r["key"]) for r in worst]
    vals = [100 * (r["on_time_ratio"] or 0) for r in worst]
    fig, ax = _figure(7.5, 0.32 * len(worst) + 0.8)
    bars = ax.barh(names, vals, color=["#e45756" if v < 90 else "#4c78a8" for v in vals])
    for b, v in zip(bars, vals):
        ax.text(v + 0.5, b.get_y() + b.get_height() / 2, f"{number(v, 1)} %", va="center", fontsize=7)
    ax.set_xlim(0, 110)
    ax.xaxis.set_major_formatter(FuncFormatter(_pct))
    ax.set_xlabel("Tỷ lệ giải quyết đúng hạn")
    return _png(fig)


def portal(daily: list[dict[str, Any]]) -> bytes:
    """Daily availability (line) and p95 latency (bars)."""
    days = [r["day"].day for r in daily]
    fig, ax = _figure(7.5, 3.0)
    ax.bar(days, [r["p95_ms"] or 0 for r in daily], color="#9ecae9", label="p95 (ms, trung vị các kiểm tra)")
    ax.set_xticks([d for d in range(1, 32) if d == 1 or d % 5 == 0])
    ax.set_xlim(0.4, 31.6)
    ax.set_ylabel("ms")
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_xlabel("Ngày")
    ax2 = ax.twinx()
    ax2.plot(days, [100 * (r["availability"] or 0) for r in daily], color="#e45756", marker=".", label="Sẵn sàng")
    ax2.set_ylim(0, 105)
    ax2.yaxis.set_major_formatter(FuncFormatter(_pct))
    return _png(_with_twin_legend(fig, ax, ax2))


def _short(name: str, width: int = 42) -> str:
    return name if len(name) <= width else name[:width - 1] + "…"


def draw_charts(b: Any) -> dict[str, bytes]:
    """Charts for a Briefing (reports/briefing/model.py): only those with data to show."""
    out: dict[str, bytes] = {}
    with matplotlib.rc_context(STYLE):
        return _draw(b, out)


def _draw(b: Any, out: dict[str, bytes]) -> dict[str, bytes]:
    if any(int(r["resolved_total"] or 0) for r in b.series):
        out["trend"] = trend(b.series)
    if b.ranking:
        out["ranking"] = ranking(b.ranking)
    if b.probe_daily:
        out["portal"] = portal(b.probe_daily)
    return out
