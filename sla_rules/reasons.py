"""The `reason` column of the engine (with_reasons=True): a short explanation for clerks.

Built in SQL over the engine's internal columns (names starting with `_`). Only used for
explain on small files, so it may use string building and a join on the runs of days off.
"""
from __future__ import annotations

from config.vocabulary import TIME_UNIT_LABELS
from sla_rules.calendar import WorkCalendar
from sla_rules.constants import (
    CLK_CAL, CLK_DAYS, CLK_FRAC, CLK_HOURS, CLK_SAME, FLAG_AFTER_RESULT, FLAG_INCONSISTENT_STATE, FLAG_LATE_REQUEST,
    FLAG_NEGATIVE_LATE, FLAG_ORPHAN_RECEIPT, HOUR_US, OUTPUT_COLUMNS,
)

_WD = {
    "vi": "['thứ Hai', 'thứ Ba', 'thứ Tư', 'thứ Năm', 'thứ Sáu', 'thứ Bảy', 'Chủ nhật']",
    "en": "['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']",
}

# Vietnamese and English texts, keyed by meaning.
_T = {
    "vi": {
        "received": "nhận", "deemed": "coi như nhận", "clock_from": "tính giờ từ",
        "after_close": "sau giờ làm việc", "before_open": "trước giờ làm việc",
        "break": "giờ nghỉ giữa ca", "after": "sau",
        "supp_restart": "nhận đủ hồ sơ bổ sung", "restart": "thời hạn tính lại từ đầu",
        "pause_added": "tạm dừng chờ bổ sung, cộng thêm",
        "paused_added": "thời gian tạm dừng (xác minh, lấy ý kiến) cộng thêm",
        "paused_stopped": "kết thúc khi đang tạm dừng (thời hạn dừng từ {q})",
        "paused": "đang tạm dừng từ {q} (thời hạn dừng, còn trong hạn)",
        "limit": "thời hạn", "same_day": "giải quyết trong ngày (nhận sau {cut} trả ngày làm việc tiếp theo)",
        "as_hours": "(phần lẻ tính theo giờ làm việc, từ đầu ngày làm việc tiếp theo)",
        "no_limit": "không có thời hạn giải quyết",
        "due": "hạn", "beyond": "hạn nằm ngoài lịch làm việc đã cấu hình ({a}–{b})",
        "ext": "có phiếu xin lỗi hẹn lại {d}: không tính, vẫn xét theo hạn ban đầu",
        "done": "giải quyết xong", "stopped": "kết thúc khi đang chờ bổ sung (thời hạn dừng từ {q})",
        "early": "trước hạn", "on_time": "đúng hạn", "overdue": "quá hạn",
        "waiting": "đang chờ bổ sung từ {q} (thời hạn tạm dừng)",
        "pending": "đến {a} chưa giải quyết xong", "in_time": "còn trong hạn", "late": "đã quá hạn",
        "withdrawn": "hồ sơ đã rút: không tính vào tỷ lệ", "rejected": "hồ sơ bị từ chối: không tính vào tỷ lệ",
        "undetermined": "không xét đúng hạn/quá hạn",
        FLAG_LATE_REQUEST: "yêu cầu bổ sung sau khi đã quá hạn: không dừng, không tính lại thời hạn",
        FLAG_ORPHAN_RECEIPT: "nhận bổ sung khi không có yêu cầu bổ sung: không tính lại thời hạn",
        FLAG_AFTER_RESULT: "bổ sung ghi sau ngày có kết quả: không xét",
        FLAG_INCONSISTENT_STATE: "trạng thái mâu thuẫn (đang xử lý nhưng có ngày kết quả): xét theo ngày kết quả",
        FLAG_NEGATIVE_LATE: "từ chối hoặc trả lại hồ sơ sau khi đã quá hạn",
    },
    "en": {
        "received": "received", "deemed": "counted as received", "clock_from": "clock starts",
        "after_close": "after office hours", "before_open": "before office hours",
        "break": "during the break", "after": "after",
        "supp_restart": "complete dossier back", "restart": "the time limit restarts from zero",
        "pause_added": "paused for a supplement, adding",
        "paused_added": "time paused (verification, consultation) added",
        "paused_stopped": "closed while paused (clock stopped {q})",
        "paused": "paused since {q} (clock stopped, within time)",
        "limit": "time limit", "same_day": "same day (received after {cut}: next working day)",
        "as_hours": "(the fraction in office hours, from the start of the next working day)",
        "no_limit": "no time limit",
        "due": "due", "beyond": "deadline outside the configured calendar ({a}–{b})",
        "ext": "apology letter re-dated to {d}: ignored, judged on the original deadline",
        "done": "resolved", "stopped": "closed while waiting for a supplement (clock stopped {q})",
        "early": "early", "on_time": "on time", "overdue": "overdue",
        "waiting": "waiting for a supplement since {q} (clock stopped)",
        "pending": "not resolved at {a}", "in_time": "within time", "late": "overdue",
        "withdrawn": "withdrawn: not counted in the ratios", "rejected": "rejected: not counted in the ratios",
        "undetermined": "not judged",
        FLAG_LATE_REQUEST: "supplement requested after the deadline: stops and restarts nothing",
        FLAG_ORPHAN_RECEIPT: "supplement received with no request before it: restarts nothing",
        FLAG_AFTER_RESULT: "supplement dated after the result: ignored",
        FLAG_INCONSISTENT_STATE: "inconsistent state (processing, with a result date): judged by that date",
        FLAG_NEGATIVE_LATE: "refused or handed back after the deadline",
    },
}


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def reason_sql(body: str, runs_table: str, lang: str, calendar: WorkCalendar) -> str:
    T = _T[lang]
    unit = {u: _q(label.of(lang)) for u, label in TIME_UNIT_LABELS.items()}
    wd = _WD[lang]
    dec = "','" if lang == "vi" else "'.'"

    def d(ts: str) -> str:      # 'thứ Hai 16/02/2026'
        return f"({wd}[isodow({ts})] || ' ' || strftime({ts}, '%d/%m/%Y'))"

    def dt(ts: str) -> str:     # '10:00 thứ Hai 16/02/2026'
        return f"(strftime({ts}, '%H:%M') || ' ' || {d(ts)})"

    def num(x: str) -> str:
        return (f"(CASE WHEN {x} = floor({x}) THEN CAST(CAST({x} AS BIGINT) AS VARCHAR) "
                f"ELSE replace(CAST(round({x}, 2) AS VARCHAR), '.', {dec}) END)")

    def us_ts(x: str) -> str:
        return f"make_timestamp({x})"

    cut = f"strftime(make_timestamp(_cutoff), '%H:%M')"
    shift_kind = (f"(CASE WHEN _clk IS NULL OR _e_us IS NULL THEN NULL WHEN NOT _w THEN 'off' "
                  f"WHEN _clk = {CLK_SAME} AND _tod > _cutoff THEN 'cutoff' "
                  f"WHEN _tod >= _close THEN 'close' "
                  f"WHEN _clk = {CLK_HOURS} AND _tod < _open THEN 'before' "
                  f"WHEN _clk = {CLK_HOURS} AND clock_start_at <> make_timestamp(_e_us) THEN 'break' END)")
    off = "_off_vi" if lang == "vi" else "_off_en"
    shift_text = (f"(CASE {shift_kind} WHEN 'off' THEN {off} WHEN 'cutoff' THEN {_q(T['after'] + ' ')} || {cut} "
                  f"WHEN 'close' THEN {_q(T['after_close'])} WHEN 'before' THEN {_q(T['before_open'])} "
                  f"WHEN 'break' THEN {_q(T['break'])} END)")
    shifted_to = (f"(CASE WHEN _clk = {CLK_HOURS} THEN {_q(T['clock_from'] + ' ')} || {dt('clock_start_at')} "
                  f"ELSE {_q(T['deemed'] + ' ')} || {d('clock_start_at')} END)")
    shift = f"(CASE WHEN {shift_kind} IS NOT NULL THEN ' (' || {shift_text} || '), ' || {shifted_to} END)"
    restarted = f"coalesce(NOT _resume AND _last_s > epoch_us(_received_at), false)"
    recv = (f"{_q(T['received'] + ' ')} || {dt('_received_at')} || "
            f"(CASE WHEN NOT {restarted} THEN coalesce({shift}, '') ELSE '' END)")
    supp = (f"(CASE WHEN {restarted} THEN {_q(T['supp_restart'] + ' ')} || {dt(us_ts('_last_s'))} || "
            f"coalesce({shift}, '') || ', ' || {_q(T['restart'])} END)")
    pause_amount = (f"(CASE _clk WHEN {CLK_DAYS} THEN CASE WHEN _p_wd > 0 THEN {num('_p_wd')} || ' ' || {unit['working_days']} END "
                    f"WHEN {CLK_SAME} THEN CASE WHEN _p_wdc > 0 THEN {num('_p_wdc')} || ' ' || {unit['working_days']} END "
                    f"WHEN {CLK_CAL} THEN CASE WHEN _p_cd > 0 THEN {num('_p_cd')} || ' ' || {unit['calendar_days']} END "
                    f"WHEN {CLK_HOURS} THEN CASE WHEN _p_us > 0 THEN {num(f'(_p_us / {HOUR_US})')} || ' ' "
                    f"|| {unit['working_hours']} END END)")
    pause = (f"(CASE WHEN _resume THEN {_q(T['pause_added'] + ' ')} || {pause_amount} "
             f"ELSE {_q(T['paused_added'] + ' ')} || {pause_amount} END)")
    # same_day never reaches it (its limit is a sentence of its own)
    unit_word = "(CASE _unit " + " ".join(f"WHEN {_q(u)} THEN {w}" for u, w in unit.items()) + " END)"
    limit = (f"(CASE WHEN _clk = {CLK_SAME} THEN replace({_q(T['same_day'])}, '{{cut}}', {cut}) "
             f"WHEN _clk IS NULL THEN {_q(T['no_limit'])} "
             f"ELSE {_q(T['limit'] + ' ')} || {num('_limit')} || ' ' || {unit_word} || "
             f"(CASE WHEN _clk = {CLK_FRAC} THEN ' ' || {_q(T['as_hours'])} ELSE '' END) END)")
    runs_col = "text_vi" if lang == "vi" else "text_en"
    runs = (f"(SELECT string_agg({runs_col}, '; ' ORDER BY first_dn) FROM {runs_table} rr "
            f"WHERE rr.last_dn >= r._e_dn AND rr.first_dn < r._due_dn)")
    beyond = (_q(T["beyond"]).replace("{a}", f"{calendar.first:%d/%m/%Y}").replace("{b}", f"{calendar.last:%d/%m/%Y}"))
    due = (f"(CASE WHEN _clk IS NULL THEN NULL WHEN due_date IS NULL THEN {beyond} "
           f"WHEN _clk = {CLK_HOURS} OR _clk = {CLK_FRAC} THEN {_q(T['due'] + ' ')} || {dt('due_at')} "
           f"ELSE {_q(T['due'] + ' ')} || {d('due_date')} END)")
    ext = f"(CASE WHEN _ext IS NOT NULL THEN replace({_q(T['ext'])}, '{{d}}', strftime(_ext, '%d/%m/%Y')) END)"
    verdict = (f"(CASE status WHEN 'early' THEN {_q(T['early'])} WHEN 'on_time' THEN {_q(T['on_time'])} "
               f"WHEN 'overdue' THEN {_q(T['overdue'])} ELSE {_q(T['undetermined'])} END)")
    result = (f"(CASE WHEN status = 'excluded' THEN (CASE WHEN _state = 'rejected' THEN {_q(T['rejected'])} "
              f"ELSE {_q(T['withdrawn'])} END) "
              f"WHEN _resolved THEN (CASE WHEN _j_us = _q_open THEN "
              f"replace(CASE WHEN _q_pause THEN {_q(T['paused_stopped'])} ELSE {_q(T['stopped'])} END, "
              f"'{{q}}', {dt(us_ts('_q_open'))}) "
              f"ELSE {_q(T['done'] + ' ')} || {dt(us_ts('_j_us'))} END) || ': ' || {verdict} "
              f"WHEN _q_pause AND status = 'pending_in_time' THEN replace({_q(T['paused'])}, '{{q}}', {dt(us_ts('_q_open'))}) "
              f"WHEN status = 'waiting_supplement' THEN replace({_q(T['waiting'])}, '{{q}}', {dt(us_ts('_q_open'))}) "
              f"WHEN status = 'pending_in_time' THEN replace({_q(T['pending'])}, '{{a}}', {dt('computed_as_of')}) "
              f"|| ': ' || {_q(T['in_time'])} "
              f"WHEN status = 'pending_overdue' THEN replace({_q(T['pending'])}, '{{a}}', {dt('computed_as_of')}) "
              f"|| ': ' || {_q(T['late'])} "
              f"ELSE NULL END)")
    findings = ", ".join(f"(CASE WHEN (_flags & {bit}) <> 0 THEN {_q(T[bit])} END)"
                         for bit in (FLAG_INCONSISTENT_STATE, FLAG_LATE_REQUEST, FLAG_ORPHAN_RECEIPT, FLAG_AFTER_RESULT,
                                     FLAG_NEGATIVE_LATE))
    cols = ", ".join(f"r.{c}" for c in OUTPUT_COLUMNS)
    return (f"SELECT {cols}, concat_ws('; ', {recv}, {supp}, {pause}, {limit}, {runs}, {due}, "
            f"{findings}, {ext}, {result}) AS reason, r._flags AS flags FROM ({body}) r")
