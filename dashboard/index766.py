"""The dashboard's 766 scorecard blocks (Bộ chỉ số 766, an estimate): on Tổng quan the month's
points per group with a table per agency, and each agency's rank over twelve months with its
movement; on Cơ quan "where the points go": the procedures that cost the most progress points and
what the dossiers due soon would save. Named queries index766, index766_rank, index766_losses,
index766_due_soon_gain (store/index766_queries.py); the rules are the configured file's
(reports.index766), passed with every call as `app.py index766` does."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from config.index766 import DEFAULT_INDEX766, GROUPS, Index766, load_index766
from dashboard import common, due_soon
from dashboard.i18n import FIELD_LABELS_VI, month_label, num, when
from reports.due_soon import format_days
from reports.index766 import SHORT

RANK_MONTHS = 12
LOSSES_SHOWN = 10
# the catalogue column a reason may name that no import column is (config/reference.py)
_COLUMN_VI = {"online_level": "mức độ cung cấp trực tuyến của thủ tục (danh mục thủ tục)"}


@st.cache_data(show_spinner=False)
def _load(path: str, mtime: float) -> dict[str, Any]:
    return load_index766(path).model_dump(mode="json")


def rules() -> tuple[Index766, dict[str, Any]]:
    """The configured rules file, as a model and as the queries' parameters: none for the shipped
    file (the query reads it itself, and the owner's prewarmed answers, dashboard/warm.py, match),
    else `rules`, its content."""
    path = common.config().reports.index766
    data = _load(str(path), path.stat().st_mtime)
    shipped = Path(path).resolve() == DEFAULT_INDEX766.resolve()
    return Index766.model_validate(data), ({} if shipped else {"rules": data})


def reason_text(r: Index766, gid: str, row: dict[str, Any], lang: str) -> str:
    """Why a group is not measured, in the page's language: in Vietnamese the inputs and the
    stored columns the query names are written with the rules file's and the import's words."""
    if lang != "vi":
        return row[f"{gid}_reason"] or ""
    text = row[f"{gid}_reason_vi"] or ""
    inputs = r.group(gid).inputs
    for key in sorted(inputs, key=len, reverse=True):
        text = re.sub(rf"(?<![\w.]){re.escape(key)}(?![\w.])", inputs[key].vi, text)
    text = re.sub(r"\b(?:dossiers|procedures)\.(\w+)\b",
                  lambda m: _COLUMN_VI.get(m[1]) or f"cột “{FIELD_LABELS_VI.get(m[1], m[1])}”", text)
    return text[:1].upper() + text[1:]


def _source(text: str) -> str:
    """The document a source cites: its text up to the date in brackets ("Quyết định 766/QĐ-TTg (23/6/2022)")."""
    m = re.match(r"[^()]*\([^)]*\)", text)
    return m[0].strip() if m else text


def _points(v: Any, of: float, lang: str) -> str:
    return "–" if v is None else f"{num(v, lang, 2)} / {num(of, lang)}"


def overview_block(month: dt.date, level: str | None = None) -> None:
    """Tổng quan: the month's estimate for the user's scope, then the rank over twelve months."""
    tr, lng = common.translator(), common.lang()
    r, data = rules()
    m_key = month.strftime("%Y-%m")
    t = common.query("index766", month=m_key, **data).to_dicts()
    total = next((x for x in t if x["row_kind"] == "total"), None)
    st.subheader(tr("ix_title", m=month_label(month, lng)))
    st.caption(tr("ix_estimate", decision=_source(r.decision.text), revision=_source(r.revision.text)))
    if total is None:
        st.info(tr("no_data"))
        return
    cards = st.columns(3) + st.columns(3)
    for col, gid in zip(cards, GROUPS):
        g = r.group(gid)
        measured = total[f"{gid}_points"] is not None
        col.metric(g.name.vi if lng == "vi" else g.name.en, _points(total[f"{gid}_points"], g.max_points, lng),
                   border=True, help=tr("ix_max", n=num(g.max_points, lng)) if measured
                   else tr("ix_not_measured", why=reason_text(r, gid, total, lng)))
    cards[5].metric(tr("ix_total"), _points(total["total_points"], total["total_max"], lng), border=True,
                    help=tr("ix_total_help", n=num(total["groups_measured"], lng), all=num(len(GROUPS), lng)))
    rows = [x for x in t if x["row_kind"] == "agency" and x["groups_measured"] and (not level or x["level"] == level)]
    # worst first: the lowest estimate against the measured groups' maximum (the rank's order)
    rows.sort(key=lambda x: (x["total_points"] / x["total_max"], x["agency_name"] or x["agency_code"]))
    if rows:
        heads = {gid: f"{SHORT[lng][gid]} ({num(r.group(gid).max_points, lng)})" for gid in GROUPS}
        # no level column (the page's filter picks the level): with it the totals fell off the page's width
        df = pd.DataFrame([{tr("col_agency"): x["agency_name"] or x["agency_code"],
                            **{heads[gid]: x[f"{gid}_points"] for gid in GROUPS},
                            tr("ix_col_total"): x["total_points"], tr("ix_col_max"): x["total_max"]} for x in rows])
        common.dataframe(df, {**{h: "dec2" for h in heads.values()}, tr("ix_col_total"): "dec2",
                              tr("ix_col_max"): "int"}, hide_index=True, key="ix_table",
                         height=min(38 + 35 * len(df), 320),
                         column_config={tr("col_agency"): st.column_config.TextColumn(width="medium")})
        st.caption(tr("ix_table_caption"))
    rank_block(month, level)


def _movement(v: int | None, lng: str) -> str:
    if v is None:
        return "–"
    return "=" if v == 0 else f"▲ {num(v, lng)}" if v > 0 else f"▼ {num(-v, lng)}"


def rank_block(month: dt.date, level: str | None = None) -> None:
    """Each agency's rank by the estimated total over twelve months, worst first, with its movement."""
    tr, lng = common.translator(), common.lang()
    _, data = rules()
    t = common.query("index766_rank", end_month=month.strftime("%Y-%m"), months=RANK_MONTHS, level=level or None,
                     **data).to_dicts()
    st.markdown(f"**{tr('ix_rank_title', n=num(RANK_MONTHS, lng))}**")
    by: dict[str, list[dict[str, Any]]] = {}
    for x in t:
        by.setdefault(x["agency_code"], []).append(x)
    last = [xs[-1] for xs in by.values() if xs[-1]["rank"] is not None]
    if not last:
        st.info(tr("ix_rank_none"))
        return
    last.sort(key=lambda x: (-x["rank"], x["agency_name"] or x["agency_code"]))
    df = pd.DataFrame([{
        tr("col_agency"): x["agency_name"] or x["agency_code"],
        tr("ix_col_rank"): f"{num(x['rank'], lng)}/{num(x['ranked'], lng)}",
        tr("ix_col_move"): _movement(x["movement"], lng),
        tr("ix_col_total"): x["total_points"],
        tr("ix_col_history"): " · ".join("–" if y["rank"] is None else num(y["rank"], lng)
                                         for y in by[x["agency_code"]])} for x in last])
    common.dataframe(df, {tr("ix_col_total"): "dec2"}, hide_index=True, key="ix_rank_table",
                     height=min(38 + 35 * len(df), 320),
                     column_config={tr("col_agency"): st.column_config.TextColumn(width="medium"),
                                    tr("ix_col_history"): st.column_config.TextColumn(
                                        width="large", help=tr("ix_history_help", n=num(RANK_MONTHS, lng)))})
    st.caption(tr("ix_rank_caption"))


def agency_block(agency: str, month: dt.date) -> None:
    """Cơ quan: where the agency's progress points go this month, and what its dossiers due soon would save."""
    tr, lng = common.translator(), common.lang()
    m_key = month.strftime("%Y-%m")
    st.subheader(tr("ix_losses_title"))
    now = due_soon.now_minute()
    gain = common.query("index766_due_soon_gain", month=m_key, agency=agency, days=due_soon.DAYS,
                        as_of=now).one() or {}
    k = st.columns(3)
    k[0].metric(tr("ov_score"), num(gain.get("score_766"), lng, 2), border=True)
    k[1].metric(tr("ix_due_soon", days=format_days(due_soon.DAYS, lng)), num(gain.get("due_soon") or 0, lng),
                border=True)
    k[2].metric(tr("ix_saved"), "–" if gain.get("points_saved") is None else "+" + num(gain["points_saved"], lng, 2),
                border=True, help=tr("ix_saved_help", d=num(gain.get("denominator"), lng)))
    st.caption(tr("ix_saved_caption", t=when(now, lng), m=month_label(month, lng)))
    losses = [x for x in common.query("index766_losses", month=m_key, agency=agency, limit=LOSSES_SHOWN)
              if x["points_unearned"] > 0]
    if not losses:
        st.success(tr("ix_no_losses"))
        return
    df = pd.DataFrame([{tr("col_code"): x["procedure_code"],
                        tr("col_procedure"): x["procedure_name"] or x["procedure_code"] or tr("ag_no_procedure"),
                        tr("col_overdue"): x["resolved_overdue"], tr("col_pending_overdue"): x["pending_overdue"],
                        tr("ix_col_lost"): x["points_lost"], tr("ix_col_unearned"): x["points_unearned"]}
                       for x in losses])
    common.dataframe(df, {tr("ix_col_lost"): "dec2", tr("ix_col_unearned"): "dec2", tr("col_overdue"): "int",
                          tr("col_pending_overdue"): "int"}, hide_index=True, key="ix_losses_table",
                     column_config={tr("col_procedure"): st.column_config.TextColumn(width="large"),
                                    tr("ix_col_lost"): st.column_config.NumberColumn(help=tr("ix_lost_help")),
                                    tr("ix_col_unearned"): st.column_config.NumberColumn(help=tr("ix_unearned_help"))})
