"""The domain's closed sets, each declared once: time units, dossier states, channels, SLA
statuses, dossier event kinds and the count columns of Biểu số 06/VPCP/KSTT, with the Vietnamese
and English words the UI and the reports show for them.

Every other module imports these. The store's ENUM types (dossier_time_unit, dossier_state,
dossier_channel, sla_status) were created by migrations, which are history: their values and
order must stay those below (tests/config/test_vocabulary.py opens a migrated store to check), because
the store and the engine rely on an ENUM's codes (the status code packed in month_key, the clock
kind of a time unit).

This module imports nothing of the project, so that any layer may use it.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple, get_args


class Label(NamedTuple):
    """A word or title in Vietnamese (the default) and English."""

    vi: str
    en: str

    def of(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi


def quoted_list(values: Iterable[str]) -> str:
    """Values as a comma-separated list of quoted literals, for an SQL `IN (...)`."""
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


# -- a procedure's time limit ---------------------------------------------------------------------
# How a limit can be counted: each clock is a rule of the engine (sla_rules/engine.py, in the order
# of its clock kinds CLK_DAYS, CLK_CAL, CLK_SAME, CLK_HOURS) and of the per-row oracle.
CLOCKS: tuple[str, ...] = ("working_days", "calendar_days", "same_day", "working_hours")


class TimeUnitSpec(NamedTuple):
    """A time unit officials' exports use: the clock that counts it, and the factor that turns its
    limit into that clock's unit (a unit of 5 working days: clock working_days, factor 5)."""

    name: str
    clock: str
    label: Label
    factor: float = 1.0


# In the order of the store's ENUM dossier_time_unit: a new unit goes at the end, with a migration
# that adds it to the ENUM and its officials' wordings in the column mapping.
UNITS: tuple[TimeUnitSpec, ...] = (
    TimeUnitSpec("working_days", "working_days", Label("ngày làm việc", "working days")),
    TimeUnitSpec("calendar_days", "calendar_days", Label("ngày", "days")),
    TimeUnitSpec("same_day", "same_day", Label("trong ngày", "same day")),
    TimeUnitSpec("working_hours", "working_hours", Label("giờ làm việc", "working hours")),
)
TIME_UNITS: tuple[str, ...] = tuple(u.name for u in UNITS)
TimeUnit = Literal[TIME_UNITS]  # type: ignore[valid-type]  # built from UNITS: one declaration
TIME_UNIT_LABELS: dict[str, Label] = {u.name: u.label for u in UNITS}


def _check_units() -> None:
    names = [u.name for u in UNITS]
    for u in UNITS:
        if u.clock not in CLOCKS or not 0 < u.factor < float("inf") or names.count(u.name) > 1:
            raise ValueError(f"time unit {u.name!r}: clock must be one of {CLOCKS}, factor positive, name unique")


_check_units()


def units_of(clock: str) -> tuple[TimeUnitSpec, ...]:
    """The time units a clock counts."""
    return tuple(u for u in UNITS if u.clock == clock)


def unit_spec(name: str | None) -> TimeUnitSpec | None:
    return next((u for u in UNITS if u.name == name), None)


# -- a dossier's dates ----------------------------------------------------------------------------
# Plausible years: a date outside is a typo (01/01/0024) or a placeholder (9999-12-31), refused by
# the import; the figures are not counted as of a later instant (every month up to it would be a
# row per agency).
FIRST_YEAR, LAST_YEAR = 1990, 2100

# -- a dossier's state ----------------------------------------------------------------------------
DossierState = Literal["processing", "finished", "returned", "withdrawn", "rejected"]
DOSSIER_STATES: tuple[str, ...] = get_args(DossierState)
# States with a result (the resolution instant is finished_at, else returned_at).
RESOLVED_STATES: tuple[str, ...] = ("finished", "returned")
# Withdrawn by the citizen, or refused / handed back: left out of the ratios.
EXCLUDED_STATES: tuple[str, ...] = ("withdrawn", "rejected")

# -- how a dossier was received -------------------------------------------------------------------
Channel = Literal["online", "direct", "postal"]
CHANNELS: tuple[str, ...] = get_args(Channel)
CHANNEL_LABELS: dict[str, Label] = {
    "online": Label("Trực tuyến", "Online"),
    "direct": Label("Trực tiếp", "In person"),
    "postal": Label("Bưu chính", "By post"),
}

# Dossiers "due soon" (sắp đến hạn): at most this many working days of office time left to their
# deadline, unless asked otherwise (the CLI, the dashboard, the gauge, the briefing, the digest).
DUE_SOON_DAYS = 2

# -- the engine's status of a dossier (ENUM sla_status) -------------------------------------------
# A resolved dossier's class (final_status); the store packs the ENUM code (early 0, on_time 1,
# overdue 2) into month_key.
RESOLVED_STATUSES: tuple[str, ...] = ("early", "on_time", "overdue")
# Not resolved at as_of.
PENDING_STATUSES: tuple[str, ...] = ("pending_in_time", "pending_overdue", "waiting_supplement")
# Not judged: withdrawn or rejected, or no usable time limit.
UNJUDGED_STATUSES: tuple[str, ...] = ("excluded", "no_deadline")
SLA_STATUSES: tuple[str, ...] = (*RESOLVED_STATUSES, *PENDING_STATUSES, *UNJUDGED_STATUSES)
# The status words a vendor's export may carry (reported_status): its verdicts, never ours alone.
REPORTED_STATUSES: tuple[str, ...] = (*RESOLVED_STATUSES, *PENDING_STATUSES)

# -- a dossier's events (dossier_events.event) ----------------------------------------------------
SUPPLEMENT_REQUESTED = "supplement_requested"  # Mẫu 02: the clock stops
SUPPLEMENT_RECEIVED = "supplement_received"    # the complete dossier is back: the clock restarts
EXTENDED = "extended"                          # Mẫu 04, an apology letter with a new date: never used for judging
PAUSE = "pause"                                # tạm dừng (verification, consultation): the clock stops
RESUME = "resume"                              # the clock goes on where it stopped (not restarted)
# The events of a supplement cycle, the request first (the order of two facts at one instant).
SUPPLEMENT_EVENTS: tuple[str, ...] = (SUPPLEMENT_REQUESTED, SUPPLEMENT_RECEIVED)
# Every kind an events file is read into; a new kind is a constant above and a place here (the
# import, the mapping files' checks and the tests follow this tuple).
# A pause and the resume that ends it, the pause first; used only where the rule set enables pauses.
PAUSE_EVENTS: tuple[str, ...] = (PAUSE, RESUME)
EVENT_KINDS: tuple[str, ...] = (*SUPPLEMENT_EVENTS, EXTENDED, *PAUSE_EVENTS)


# -- a citizen's rating of how a dossier was handled (the 766 scorecard's satisfaction group) ------
# The scale an export's rating column is read on; a value outside it is a quarantined row error.
RATING_MIN, RATING_MAX = 1, 5


# -- Biểu số 06/VPCP/KSTT (Thông tư 01/2020/TT-VPCP) ----------------------------------------------
Bieu06Group = Literal["received", "resolved", "pending"]
BIEU06_GROUPS: dict[str, Label] = {
    "received": Label("Số hồ sơ nhận giải quyết", "Dossiers received"),
    "resolved": Label("Số hồ sơ đã giải quyết", "Dossiers resolved"),
    "pending": Label("Số hồ sơ đang giải quyết", "Dossiers pending"),
}


@dataclass(frozen=True)
class CountColumn:
    """One count column of the form: its name in the store's answers (bieu06, agency_month_stats)
    and its titles."""

    name: str
    group: Bieu06Group
    vi: str        # the title in the form, under its group's title
    en: str
    vi_alone: str  # the title standing alone, as a flat table's header
    vi_line: str   # a line of the briefing's table of the month's figures

    @property
    def is_total(self) -> bool:
        """The group's total (the other columns of the group are parts of it)."""
        return self.name.endswith("_total")

    def title(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi


BIEU06_COLUMNS: tuple[CountColumn, ...] = (
    CountColumn("received_total", "received", "Tổng số", "Total",
                "Nhận: tổng số", "Tổng số hồ sơ nhận giải quyết"),
    CountColumn("received_online", "received", "Trong kỳ: Trực tuyến", "This period: online",
                "Nhận trực tuyến", "Tiếp nhận trực tuyến trong tháng"),
    CountColumn("received_direct_postal", "received", "Trong kỳ: Trực tiếp, bưu chính", "This period: in person, by post",
                "Nhận trực tiếp, bưu chính", "Tiếp nhận trực tiếp, bưu chính trong tháng"),
    CountColumn("carried_over", "received", "Từ kỳ trước", "Carried over",
                "Từ kỳ trước", "Từ kỳ trước chuyển sang"),
    CountColumn("resolved_total", "resolved", "Tổng số", "Total",
                "Đã giải quyết", "Số hồ sơ đã giải quyết"),
    CountColumn("resolved_early", "resolved", "Trước hạn", "Early", "Trước hạn", "Trước hạn"),
    CountColumn("resolved_on_time", "resolved", "Đúng hạn", "On time", "Đúng hạn", "Đúng hạn"),
    CountColumn("resolved_overdue", "resolved", "Quá hạn", "Overdue", "Quá hạn", "Quá hạn"),
    CountColumn("pending_total", "pending", "Tổng số", "Total",
                "Đang giải quyết", "Số hồ sơ đang giải quyết cuối tháng"),
    CountColumn("pending_in_time", "pending", "Trong hạn", "Within time", "Đang trong hạn", "Trong hạn"),
    CountColumn("pending_overdue", "pending", "Quá hạn", "Overdue", "Đang quá hạn", "Quá hạn"),
)
BIEU06_COUNT_NAMES: tuple[str, ...] = tuple(c.name for c in BIEU06_COLUMNS)


def bieu06_group_spans(lang: str = "vi") -> list[tuple[str, int]]:
    """The form's first header row over the count columns: (group title, columns spanned)."""
    return [(label.of(lang), sum(1 for c in BIEU06_COLUMNS if c.group == g)) for g, label in BIEU06_GROUPS.items()]
