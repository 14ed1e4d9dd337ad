"""Constants shared by the SQL engine and the explanations (units, columns, statuses)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

from config.vocabulary import CLOCKS, SLA_STATUSES, UNITS, quoted_list, units_of

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
EPOCH = datetime(1970, 1, 1)
EPOCH_DATE = date(1970, 1, 1)
MAX_LIMIT = 100_000  # larger limits are treated as data errors (no deadline)

INPUT_COLUMNS = (
    "dossier_code", "received_at", "time_limit", "time_unit", "supplement_requested_at",
    "supplement_received_at", "extended_due_at", "finished_at", "returned_at", "state",
)
OUTPUT_COLUMNS = (
    "dossier_code", "rule_version", "clock_start_at", "due_date", "due_at", "late_from",
    "final_status", "status", "computed_as_of",
)
STATUSES = SLA_STATUSES  # the values of the store's ENUM sla_status, in its order

# clock kinds: whole working days, calendar days, same day, office hours, and working days with a
# fraction (N + f: f of an office day into the working day after the N-th)
CLK_DAYS, CLK_CAL, CLK_SAME, CLK_HOURS, CLK_FRAC = 1, 2, 3, 4, 5
# the clock kind of each clock a time unit can be counted by (config/vocabulary.CLOCKS)
CLOCK_KIND = dict(zip(CLOCKS, (CLK_DAYS, CLK_CAL, CLK_SAME, CLK_HOURS)))



def fractional_sql(time_limit: str) -> str:
    """Whether a limit has a fraction (a working-day limit N + f ends at an office-time instant)."""
    return f"{time_limit} <> floor({time_limit})"


def _is_unit(time_unit: str, units: tuple) -> str:
    names = [u.name for u in units]
    if not names:
        return "false"
    return f"{time_unit} = {quoted_list(names)}" if len(names) == 1 else f"{time_unit} IN ({quoted_list(names)})"


def clock_sql(time_unit: str) -> str:
    """The clock kind (CLK_*) of a time unit, NULL for a value that is none (config/vocabulary.UNITS)."""
    return ("CASE " + time_unit + " " + " ".join(f"WHEN {quoted_list([u.name])} THEN {CLOCK_KIND[u.clock]}" for u in UNITS)
            + " END")


def limit_sql(time_unit: str, time_limit: str) -> str:
    """A limit in its clock's unit: time_limit times the unit's factor."""
    scaled = [u for u in UNITS if u.factor != 1]
    if not scaled:
        return time_limit
    return (f"({time_limit} * CASE {time_unit} "
            + " ".join(f"WHEN {quoted_list([u.name])} THEN {u.factor!r}" for u in scaled) + " ELSE 1 END)")


def in_clock_sql(time_unit: str, clock: str) -> str:
    """Whether a time unit is counted by `clock`."""
    return f"({_is_unit(time_unit, units_of(clock))})"


def office_time_sql(time_unit: str, time_limit: str) -> str:
    """Whether a dossier's deadline is an instant of office time (working hours, or working days
    with a fraction) rather than the office close of a due date: the one definition, which the
    engine, the store's view and queries and the migrations emit."""
    return (f"({_is_unit(time_unit, units_of('working_hours'))} OR ({_is_unit(time_unit, units_of('working_days'))} "
            f"AND {fractional_sql(limit_sql(time_unit, time_limit))}))")


def time_of_day_us(t: time) -> int:
    """A time of day in µs since midnight: how the SQL counts office time."""
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def office_elapsed_sql(tod: str, sessions: Sequence[tuple[int, int]]) -> str:
    """Office time (µs) elapsed before time of day `tod` (µs) on a working day, for the office
    sessions (start, end) in µs of the day: the one definition of office time, which the engine's
    clocks and the working time left to a deadline both emit."""
    return "(" + " + ".join(f"least(greatest({tod} - {a}, 0), {b - a})" for a, b in sessions) + ")"


def office_position_sql(tod: str, wd_index: str, working: str, sessions: Sequence[tuple[int, int]]) -> str:
    """Office time (µs) from the start of the calendar to an instant: the whole working days before
    its date (`wd_index`: working days up to and including the date; `working`: whether the date is
    one) and what has elapsed of its own day. The difference of two positions is the working time
    between two instants; nothing passes on a day off or outside office hours."""
    day = sum(b - a for a, b in sessions)
    return (f"(({wd_index} - CAST({working} AS BIGINT)) * {day} "
            f"+ CASE WHEN {working} THEN {office_elapsed_sql(tod, sessions)} ELSE 0 END)")


def month_number_sql(x: str) -> str:
    """The month of a DATE or TIMESTAMP as one number, year * 12 + month - 1: what the engine, the
    monthly figures' keys and the audit's and sync check's keys count months in."""
    return f"(year({x}) * 12 + month({x}) - 1)"


# What the engine found in a dossier's facts, as bits of its `flags` (audit findings but STOPPED).
FLAG_LATE_REQUEST = 1        # a supplement request issued after the deadline in force: ignored
FLAG_ORPHAN_RECEIPT = 2      # a supplement receipt with no open request before it: ignored
FLAG_AFTER_RESULT = 4        # a supplement fact dated after the result: ignored
FLAG_INCONSISTENT_STATE = 8  # state says processing but a result date is given: judged by that date
FLAG_NEGATIVE_LATE = 16      # refused or handed back (state rejected) after the deadline
FLAG_STOPPED = 32            # the clock was stopped by an open supplement request at as_of or at the result
FLAGS = {
    FLAG_LATE_REQUEST: ("late_request", "yêu cầu bổ sung sau khi đã quá hạn", "supplement requested after the deadline"),
    FLAG_ORPHAN_RECEIPT: ("orphan_receipt", "nhận bổ sung khi không có yêu cầu bổ sung",
                          "supplement received with no request before it"),
    FLAG_AFTER_RESULT: ("after_result", "bổ sung ghi sau ngày có kết quả", "supplement dated after the result"),
    FLAG_INCONSISTENT_STATE: ("inconsistent_state", "trạng thái mâu thuẫn",
                              "inconsistent state (processing, with a result date)"),
    FLAG_NEGATIVE_LATE: ("negative_after_deadline", "từ chối hoặc trả lại hồ sơ sau khi đã quá hạn",
                         "refused or handed back after the deadline"),
}
