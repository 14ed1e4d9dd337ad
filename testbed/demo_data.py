"""Realistic demo data for motcua-watch: a year of Quảng Ngãi's one-stop dossiers.

`generate(out_dir, seed=..., months=..., dossiers_per_month=...)` writes two files in the canonical
format of the import (contract (1)):

- ``dossiers.csv``: one row per dossier, the canonical header exactly, ISO dates, NO personal data;
- ``events.csv``: supplement cycles (``supplement_requested`` / ``supplement_received``) and apology
  letters (``extended``), one row per event.

The same seed, size and end date give the same bytes. Everything is computed by DuckDB SQL over
``range()`` with hash-based pseudo-random numbers ``hash(i, salt, seed)``, so a year at the
province's scale (360,000 dossiers) takes a few seconds and numpy is not needed.

What the data models (the figures are calibrations, not statistics of the real province):

- volume: weekday pattern (Monday busiest), a rush in the last days of each month, a dip around
  the Lunar New Year (dates from the ``holidays`` package), a slow growth, and more dossiers once
  Kon Tum joined the province (07/2025); offices are closed on weekends and holidays (swapped
  Saturdays are worked), so what arrives then comes in online. The total is exactly
  months x dossiers_per_month;
- reception: office hours for in-person and postal dossiers (about a fifth after 15:00, which the
  law passes on to the next working day), any time for online ones; the online share rises from
  about a quarter in 2021 to about 60 % in 2025, and drops for a while after the 2.0 go-live;
- agencies: effective-dated (testbed/reference/quang_ngai.yaml): before 07/2025 local procedures go
  to the district-level units, afterwards to the new communes and wards; departments merged on
  01/03/2025 hand over to their successors; driving licences move to the police on 01/03/2025 and
  criminal-record certificates on 01/07/2025;
- processing ("true" outcome, in working days of the real calendar, approximately the way the SLA
  engine counts): most dossiers early or on time, a minority overdue (worse for land and
  construction, and for some agencies), a few stuck; supplement requests (~6.5 %, a few with two or
  three cycles, the clock restarting each time), a few never completed by the citizen;
  withdrawn and rejected dossiers (~1.5 %); apology letters with a new date for most late ones;
  what the audit must find: a supplement requested after the deadline for about one in eight
  overdue dossiers without a supplement, a supplement receipt with no request (≈ 0.2 %);
- the vendor's own figures (reported_due_at, reported_status) computed with the buggy rule of the
  2022 portal: no 15:00 rule (only a reception after 17:00 moves to the next working day), swapped
  Saturdays and the weekdays given off in exchange ignored, calendar-day periods counting the
  reception day, working hours counted on the wall clock, and the clock never restarted after a
  supplement request; its due date is 17:00 of the due day. On top of that the 2.0 system labels
  ~4 % of the dossiers its own rule finds on time "overdue". reported_status uses the engine's
  status words (early, on_time, overdue, pending_in_time, pending_overdue; excluded for withdrawn
  and rejected dossiers). With the defaults the vendor reports ~14 % (1.0) and ~17 % (2.0) of the
  resolved dossiers overdue, where the law's rule finds ~6 %;
- the 766 scorecard's inputs: online dossiers mostly paid online (in-person ones seldom), digitised at
  reception for nearly every online dossier and for a share of the in-person ones rising from about a
  third to 85 % over the period, results digitised rising from 30 % to 80 %, about two in five
  resolved dossiers rated 1-5 (mostly 4-5, some 1-2, worse when overdue);
- source_system '1.0' before the 2.0 go-live (about six months before the end), '2.0' after;
  sync to the national portal (synced_at, synced_status): slower on 2.0, ~40 % of the 1.0 dossiers
  resolved after the go-live never synced, a few stuck at an older status.

The snapshot is taken at ``end`` 00:00 (returned as ``as_of``): dossiers not resolved by then are
``processing``; recompute the SLA as of that instant to see pending dossiers the way the export did.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import holidays
import yaml

from config.vocabulary import (EXCLUDED_STATES, EXTENDED, RESOLVED_STATES, SUPPLEMENT_RECEIVED,
                               SUPPLEMENT_REQUESTED, TIME_UNITS, quoted_list)

REFERENCE_PATH = Path(__file__).resolve().parent / "reference" / "quang_ngai.yaml"
DEFAULT_END = dt.date(2026, 1, 1)
DEFAULT_SEED = 20220601
DEFAULT_MONTHS = 12
DEFAULT_PER_MONTH = 30000

CANONICAL_COLUMNS: tuple[str, ...] = (
    "dossier_code", "agency_code", "agency_name", "procedure_code", "procedure_name", "field",
    "channel", "received_at", "time_limit", "time_unit", "supplement_requested_at",
    "supplement_received_at", "extended_due_at", "finished_at", "returned_at", "state",
    "reported_due_at", "reported_status", "source_system", "synced_at", "synced_status",
    "paid_online", "dossier_digitised", "result_digitised", "satisfaction_rating",
)
EVENT_COLUMNS: tuple[str, ...] = ("dossier_code", "event", "at", "detail")

# --- who handles what, and how often ---------------------------------------------------------------
LOCAL = "local"  # district-level units before 07/2025, communes and wards afterwards
D_MERGE = "2025-03-01"  # departments reorganised
D_TWO_TIER = "2025-07-01"  # districts abolished, communes reorganised, Kon Tum merged in

# procedure code -> (relative volume, handler). A handler is LOCAL or a tuple of
# (agency code, from, to): the agency handles the procedure from..to (ISO dates, None = open),
# intersected with the agency's own validity in the reference file.
PROCEDURE_MIX: dict[str, tuple[float, Any]] = {
    # Hộ tịch
    "1.001193": (6.0, LOCAL),
    "1.000894": (2.0, LOCAL),
    "1.000656": (1.6, LOCAL),
    "1.004873": (4.0, LOCAL),
    "2.000635": (4.5, LOCAL),
    "1.004884": (0.5, LOCAL),
    "1.000689": (0.3, LOCAL),
    "2.000806": (0.15, LOCAL),
    "QNG-HT-001": (0.8, LOCAL),
    # Chứng thực
    "2.000815": (18.0, LOCAL),
    "2.000884": (4.0, LOCAL),
    "2.000942": (0.5, LOCAL),
    "QNG-CT-001": (3.0, LOCAL),
    # Đăng ký kinh doanh
    "QNG-HKD-001": (2.5, LOCAL),
    "QNG-HKD-002": (1.0, LOCAL),
    "1.001570": (0.4, LOCAL),
    "1.001266": (0.4, LOCAL),
    "QNG-DN-001": (1.2, (("QNG.SKHDT", None, None), ("QNG.STC", None, None))),
    "QNG-DN-002": (1.5, (("QNG.SKHDT", None, None), ("QNG.STC", None, None))),
    "QNG-DN-003": (0.5, (("QNG.SKHDT", None, None), ("QNG.STC", None, None))),
    # Đầu tư
    "QNG-DT-001": (0.05, (("QNG.SKHDT", None, None), ("QNG.STC", None, None))),
    "QNG-DT-002": (0.06, (("QNG.BQLKKT", None, None),)),
    # Đất đai
    "QNG-DD-001": (6.0, (("QNG.STNMT", None, None), ("QNG.SNNMT", None, None))),
    "QNG-DD-002": (1.5, LOCAL),
    "QNG-DD-003": (1.5, (("QNG.STNMT", None, None), ("QNG.SNNMT", None, None))),
    "QNG-DD-004": (0.6, LOCAL),
    "QNG-DD-005": (2.5, (("QNG.STNMT", None, None), ("QNG.SNNMT", None, None))),
    "QNG-DD-006": (1.5, (("QNG.STNMT", None, None), ("QNG.SNNMT", None, None))),
    # Xây dựng
    "QNG-XD-001": (1.2, LOCAL),
    "QNG-XD-002": (0.15, (("QNG.SXD", None, None),)),
    "QNG-XD-003": (0.05, (("QNG.SXD", None, None),)),
    # Giao thông
    "QNG-GT-001": (2.0, (("QNG.SGTVT", None, None), ("QNG.CA", D_MERGE, None))),
    "QNG-GT-002": (0.2, (("QNG.SGTVT", None, None), ("QNG.SXD", None, None))),
    # Lý lịch tư pháp
    "QNG-LLTP-001": (2.5, (("QNG.STP", None, D_TWO_TIER), ("QNG.CA", D_TWO_TIER, None))),
    # Lao động, việc làm, bảo trợ xã hội
    "QNG-LD-001": (2.0, (("QNG.SLDTBXH", None, None), ("QNG.SNV", D_MERGE, None))),
    "QNG-LD-002": (0.2, (("QNG.SLDTBXH", None, None), ("QNG.SNV", D_MERGE, None))),
    "QNG-BTXH-001": (0.8, LOCAL),
    # Giáo dục
    "QNG-GD-001": (0.8, (("QNG.SGDDT", None, None),)),
    "QNG-GD-002": (0.1, (("QNG.SGDDT", None, None),)),
    "QNG-GD-003": (0.3, (("QNG.SGDDT", None, None),)),
    # Y tế, an toàn thực phẩm
    "QNG-YT-001": (0.1, (("QNG.SYT", None, None),)),
    "QNG-YT-002": (0.2, (("QNG.SYT", None, None),)),
    # Công Thương
    "QNG-CTH-001": (0.3, LOCAL),
    "QNG-CTH-002": (0.05, (("QNG.SCT", None, None),)),
    # Văn hóa, du lịch, bưu chính, thủy sản, môi trường, tôn giáo
    "QNG-VH-001": (0.05, (("QNG.SVHTTDL", None, None),)),
    "QNG-DL-001": (0.03, (("QNG.SVHTTDL", None, None),)),
    "QNG-BC-001": (0.03, (("QNG.STTTT", None, None), ("QNG.SKHCN", None, None))),
    "QNG-TS-001": (0.5, (("QNG.SNNPTNT", None, None), ("QNG.SNNMT", None, None))),
    "QNG-MT-001": (0.02, (("QNG.STNMT", None, None), ("QNG.SNNMT", None, None))),
    "QNG-TG-001": (0.02, (("QNG.SNV", None, D_MERGE), ("QNG.SDTTG", D_MERGE, None))),
}

# Relative size of the local units (population, roughly); units not listed weigh 1.0.
LOCAL_WEIGHTS: dict[str, float] = {
    "QNG.TP.QUANGNGAI": 5.0, "QNG.TX.DUCPHO": 2.4, "QNG.H.BINHSON": 3.2, "QNG.H.SONTINH": 1.6,
    "QNG.H.TUNGHIA": 2.4, "QNG.H.NGHIAHANH": 1.7, "QNG.H.MODUC": 2.2, "QNG.H.BATO": 1.0,
    "QNG.H.MINHLONG": 0.4, "QNG.H.SONHA": 1.2, "QNG.H.SONTAY": 0.4, "QNG.H.TRABONG": 1.0,
    "QNG.H.LYSON": 0.5,
    "QNG.P.CAMTHANH": 4.0, "QNG.P.NGHIALO": 3.5, "QNG.P.TRUONGQUANGTRONG": 3.0,
    "QNG.P.DUCPHO": 1.8, "QNG.P.TRACAU": 1.3, "QNG.P.SAHUYNH": 1.2,
    "QNG.P.KONTUM": 3.0, "QNG.P.DAKCAM": 1.8, "QNG.P.DAKBLA": 1.8, "QNG.DK.LYSON": 0.8,
    "QNG.X.BATO": 0.6, "QNG.X.BAVI": 0.4, "QNG.X.BADINH": 0.4, "QNG.X.BAVINH": 0.4,
    "QNG.X.BADONG": 0.4, "QNG.X.BAXA": 0.3, "QNG.X.DANGTHUYTRAM": 0.4, "QNG.X.MINHLONG": 0.5,
    "QNG.X.SONMAI": 0.3, "QNG.X.SONHA": 0.7, "QNG.X.SONHA2": 0.5, "QNG.X.SONLINH": 0.4,
    "QNG.X.SONTHUY": 0.4, "QNG.X.SONKY": 0.4, "QNG.X.SONTAY": 0.4, "QNG.X.SONTAYTHUONG": 0.3,
    "QNG.X.SONTAYHA": 0.3, "QNG.X.TRABONG": 0.7, "QNG.X.DONGTRABONG": 0.5, "QNG.X.TAYTRA": 0.3,
    "QNG.X.THANHBONG": 0.4, "QNG.X.CADAM": 0.3, "QNG.X.TAYTRABONG": 0.3,
    "QNG.X.MANGDEN": 0.6, "QNG.X.DAKTO": 0.9, "QNG.X.DAKHA": 0.9, "QNG.X.SATHAY": 0.7,
    "QNG.X.NGOCLINH": 0.3, "QNG.X.KONPLONG": 0.4,
}

# How much more often a field runs late than the average (true performance).
FIELD_RISK: dict[str, float] = {
    "Đất đai": 2.3, "Xây dựng": 1.8, "Đầu tư": 1.5, "Việc làm": 1.3, "Bảo trợ xã hội": 1.3,
    "Môi trường": 1.6, "Hộ tịch": 0.5, "Chứng thực": 0.35, "Đăng ký kinh doanh": 0.6,
    "Lý lịch tư pháp": 0.8,
}
ONLINE_LEVEL_FACTOR = {"full": 1.35, "partial": 0.8, "none": 0.0}

# Calibration of the behaviours (shares of dossiers unless said otherwise).
P_WITHDRAWN = 0.008
P_REJECTED = 0.007
TARGET_SUPPLEMENT = 0.065  # of all dossiers; only procedures of two days or more are eligible
P_ABANDON = 0.06  # of supplement requests: the citizen never completes the dossier
P_LATE_REQUEST = 0.12  # of overdue dossiers without a supplement: a request after the deadline
P_ORPHAN_RECEIPT = 0.004  # of dossiers without a supplement: a receipt with no request (before the result)
P_STUCK = 0.004  # never resolved
BASE_OVERDUE = 0.055  # before the agency and field multipliers
EARLY_SHARE = 0.85  # of the dossiers not late, when finishing early is possible
P_APOLOGY = 0.55  # of the late dossiers: an apology letter with a new date (Mẫu 04)
P_MISLABEL_20 = 0.04  # 2.0 labels this share of its own on-time dossiers "overdue"
P_UNSYNCED_10 = 0.40  # of 1.0 dossiers resolved after the go-live: never synced
P_STALE_10 = 0.06  # of those: synced status stuck at 'processing'
P_STALE_OTHER = 0.002
ABANDON_WITHDRAW_DAYS = 60
# The 766 scorecard's inputs (shares of dossiers)
P_PAID_ONLINE = 0.85         # online dossiers whose fee was paid online
P_PAID_ONLINE_DIRECT = 0.03  # in person or by post, paid online all the same
P_DIGITISED_ONLINE = 0.97    # online dossiers digitised at reception
P_DIGITISED_FROM, P_DIGITISED_GAIN = 0.35, 0.50   # in person: 35 % at the start of the period, 85 % at its end
P_RESULT_FROM, P_RESULT_GAIN = 0.30, 0.50         # results digitised: 30 % rising to 80 %
P_RATED = 0.40               # resolved dossiers the citizen rated

EVENT_DETAIL = {
    SUPPLEMENT_REQUESTED: "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ (Mẫu 02), lần {k}",
    SUPPLEMENT_RECEIVED: "Đã nhận đủ hồ sơ bổ sung, lần {k}; thời hạn giải quyết tính lại từ đầu",
    EXTENDED: "Phiếu xin lỗi và hẹn lại ngày trả kết quả (Mẫu 04)",
}


class DemoDataError(Exception):
    """Bad parameters or an inconsistent reference file; the message is for humans."""


# --- small helpers ---------------------------------------------------------------------------------
def _add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(d.day, last))


def _as_date(v: Any, what: str) -> dt.date | None:
    if v is None or isinstance(v, dt.date):
        return v if not isinstance(v, dt.datetime) else v.date()
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        raise DemoDataError(f"{what}: not a date: {v!r}") from None


def _days(first: dt.date, last: dt.date) -> Iterable[dt.date]:
    d = first
    while d <= last:
        yield d
        d += dt.timedelta(days=1)


def load_reference(path: Path | str = REFERENCE_PATH) -> dict[str, Any]:
    """The reference file as plain dicts, dates parsed (no dependency on config/reference.py)."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise DemoDataError(f"{p}: cannot read the reference file: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("agencies"), list) \
            or not isinstance(data.get("procedures"), list):
        raise DemoDataError(f"{p}: expected 'agencies' and 'procedures' lists")
    agencies, procedures = {}, {}
    for n, a in enumerate(data["agencies"], 1):
        where = f"{p}: agencies[{n}]"
        if not isinstance(a, dict) or not a.get("code") or not a.get("name"):
            raise DemoDataError(f"{where}: an agency needs a code and a name")
        agencies[str(a["code"])] = {
            **a,
            "valid_from": _as_date(a.get("valid_from"), where) or dt.date(1900, 1, 1),
            "valid_to": _as_date(a.get("valid_to"), where),
        }
    for n, pr in enumerate(data["procedures"], 1):
        where = f"{p}: procedures[{n}]"
        missing = [k for k in ("code", "name", "time_limit", "time_unit")
                   if not isinstance(pr, dict) or pr.get(k) in (None, "")]
        if missing:
            raise DemoDataError(f"{where}: missing {', '.join(missing)}")
        if pr["time_unit"] not in TIME_UNITS:
            raise DemoDataError(f"{where}: time_unit {pr['time_unit']!r} is not one of {', '.join(TIME_UNITS)}")
        procedures[str(pr["code"])] = {"field": None, "online_level": "none", **pr, "code": str(pr["code"])}
    return {"agencies": agencies, "procedures": procedures}


# --- calendars -------------------------------------------------------------------------------------
class _Calendar:
    """True working days (holidays package, swapped Saturdays worked) and the vendor's view
    (Monday-Friday minus holidays, swaps ignored both ways)."""

    def __init__(self, first: dt.date, last: dt.date) -> None:
        vn = holidays.VN(years=range(first.year - 1, last.year + 2), language="en_US")
        names = dict(vn.items())
        self.holidays = set(names)
        self.substituted = {d for d, n in names.items() if "substitut" in n.lower()}
        self.swapped_saturdays = set(getattr(vn, "weekend_workdays", set()))
        self.lunar_new_year = sorted(d for d, n in names.items() if n == "Lunar New Year")
        if not self.lunar_new_year:
            raise DemoDataError("the holidays package gave no Lunar New Year dates for Vietnam")
        self.first, self.last = first, last
        days = list(_days(first, last))
        self.is_work = [self.working(d) for d in days]
        self.v_is_work = [d.weekday() < 5 and (d not in self.holidays or d in self.substituted)
                          for d in days]
        self.wd = [d for d, w in zip(days, self.is_work) if w]
        self.vwd = [d for d, w in zip(days, self.v_is_work) if w]
        self.cur_idx, self.next_idx = self._indices(self.is_work)
        self.v_cur_idx, self.v_next_idx = self._indices(self.v_is_work)

    def working(self, d: dt.date) -> bool:
        return (d.weekday() < 5 and d not in self.holidays) or d in self.swapped_saturdays

    @staticmethod
    def _indices(flags: list[bool]) -> tuple[list[int], list[int]]:
        """Per day: index of the first working day on/after it, and strictly after it."""
        n = len(flags)
        cur, nxt = [0] * n, [0] * n
        count = sum(flags)
        idx_after = count  # index of the next working day after position i (sentinel: count)
        for i in range(n - 1, -1, -1):
            nxt[i] = idx_after
            if flags[i]:
                idx_after -= 1
                cur[i] = idx_after
            else:
                cur[i] = idx_after
        return cur, nxt

    def nearest_lny(self, d: dt.date) -> dt.date:
        return min(self.lunar_new_year, key=lambda x: abs((x - d).days))

    def install(self, con: duckdb.DuckDBPyConnection) -> None:
        """Lookup macros over the calendars. The lists live in session variables: as literals
        inside the macros they would make every query's expressions huge and slow to bind."""
        base = f"DATE '{self.first.isoformat()}'"
        variables = {"cal_wd": self.wd, "cal_vwd": self.vwd, "cal_cur": self.cur_idx,
                     "cal_next": self.next_idx, "cal_vcur": self.v_cur_idx, "cal_vnext": self.v_next_idx,
                     "cal_work": [bool(w) for w in self.is_work],
                     "cal_vwork": [bool(w) for w in self.v_is_work]}
        for name, values in variables.items():
            con.execute(f"SET VARIABLE {name} = ?", [values])
        off = f"((CAST(d AS DATE) - {base}) + 1)"
        for sql in (
            "CREATE MACRO wdd(i) AS getvariable('cal_wd')[CAST(i AS BIGINT) + 1]",
            "CREATE MACRO vwdd(i) AS getvariable('cal_vwd')[CAST(i AS BIGINT) + 1]",
            f"CREATE MACRO curi(d) AS getvariable('cal_cur')[{off}]",
            f"CREATE MACRO nexti(d) AS getvariable('cal_next')[{off}]",
            f"CREATE MACRO vcuri(d) AS getvariable('cal_vcur')[{off}]",
            f"CREATE MACRO vnexti(d) AS getvariable('cal_vnext')[{off}]",
            f"CREATE MACRO isw(d) AS getvariable('cal_work')[{off}]",
            f"CREATE MACRO vendor_work(d) AS getvariable('cal_vwork')[{off}]",
        ):
            con.execute(sql)


# --- the generator ---------------------------------------------------------------------------------
def _daily_plan(cal: _Calendar, start: dt.date, end: dt.date, total: int, seed: int,
                go_live: dt.date) -> list[tuple[dt.date, int, float]]:
    """(day, dossiers received, base online probability) for every day in [start, end)."""
    rng = random.Random(seed)
    weekday_w = [1.18, 1.06, 1.0, 0.98, 0.9]
    merger = dt.date.fromisoformat(D_TWO_TIER)
    epoch = dt.date(2021, 1, 1)
    days, weights, p_online = [], [], []
    for d in _days(start, end - dt.timedelta(days=1)):
        if cal.working(d):
            w = weekday_w[d.weekday()] if d.weekday() < 5 else 0.85  # swapped Saturday
        elif d.weekday() < 5:
            w = 0.08  # a public holiday: online only
        else:
            w = 0.10 if d.weekday() == 5 else 0.07
        if d.day >= 25:
            w *= 1.3  # month-end rush
        o = (d - cal.nearest_lny(d)).days
        if -12 <= o < -2:
            w *= 0.8
        elif -2 <= o <= 6:
            w *= 0.5
        elif 7 <= o <= 20:
            w *= 0.55 + 0.45 * (o - 7) / 13
        months_since = (d.year - epoch.year) * 12 + d.month - 1
        w *= max(0.6, 1 + 0.005 * months_since)
        if d >= merger:
            w *= 1.2  # Kon Tum's communes and wards join the portal
        w *= 0.9 + 0.2 * rng.random()
        years = (d - epoch).days / 365.25
        p = min(0.62, max(0.12, 0.24 + 0.075 * years))
        since_go_live = (d - go_live).days
        if 0 <= since_go_live < 75:  # 2.0's unstable forms put citizens off online submission
            p *= 0.7 + 0.3 * since_go_live / 75
        days.append(d)
        weights.append(w)
        p_online.append(p)
    wsum = sum(weights)
    exact = [total * w / wsum for w in weights]
    counts = [int(x) for x in exact]
    rest = total - sum(counts)
    order = sorted(range(len(days)), key=lambda k: (-(exact[k] - counts[k]), k))
    for k in order[:rest]:
        counts[k] += 1
    return list(zip(days, counts, p_online))


def _handlers(ref: dict[str, Any], start: dt.date, end: dt.date) -> list[tuple[str, str, dt.date, dt.date]]:
    """(procedure, agency, from, to) rows for the procedures handled by named agencies. Handlers
    are listed in order: each takes over where the previous one stopped (its own validity and
    from/to permitting). Checks that every day of [start, end) has exactly one handler."""
    rows = []
    for code, (_, handler) in PROCEDURE_MIX.items():
        if handler == LOCAL:
            continue
        cursor = start
        for agency, frm, to in handler:
            a = ref["agencies"].get(agency)
            if a is None:
                raise DemoDataError(f"demo mix: procedure {code}: agency {agency} not in the reference file")
            lo = max(a["valid_from"], _as_date(frm, code) or dt.date(1900, 1, 1), cursor)
            hi = min(a["valid_to"] or dt.date(9999, 1, 1), _as_date(to, code) or dt.date(9999, 1, 1), end)
            if lo >= hi:
                continue
            if lo > cursor:
                raise DemoDataError(f"demo mix: procedure {code} has no handler from {cursor} to {lo}")
            rows.append((code, agency, lo, hi))
            cursor = hi
        if cursor < end:
            raise DemoDataError(f"demo mix: procedure {code} has no handler from {cursor}")
    return rows


def _local_buckets(ref: dict[str, Any], start: dt.date, end: dt.date,
                   plan_days: list[dt.date]) -> tuple[list[int], list[tuple[int, str, float, float]]]:
    """Period id per planned day, and (period, agency, lo, hi) rows for a weighted pick of the
    local unit valid in that period."""
    local = [a for a in ref["agencies"].values() if a.get("level") in ("district", "commune")]
    cuts = sorted({start, end} | {a["valid_from"] for a in local if start < a["valid_from"] < end}
                  | {a["valid_to"] for a in local if a["valid_to"] and start < a["valid_to"] < end})
    rows = []
    for pid, (lo, hi) in enumerate(zip(cuts, cuts[1:])):
        units = sorted((a["code"], LOCAL_WEIGHTS.get(a["code"], 1.0)) for a in local
                       if a["valid_from"] <= lo and (a["valid_to"] is None or a["valid_to"] >= hi))
        if not units:
            raise DemoDataError(f"reference: no district or commune valid from {lo} to {hi}")
        _bounds(rows, pid, units)
    period_of = []
    for d in plan_days:
        period_of.append(max(k for k, c in enumerate(cuts[:-1]) if c <= d))
    return period_of, rows


def _bounds(rows: list, key: Any, items: list[tuple[str, float]]) -> None:
    """Append (key, code, lo, hi) rows: a weighted pick is the row whose [lo, hi) holds u."""
    total = sum(w for _, w in items)
    cum = 0.0
    for n, (code, w) in enumerate(items):
        hi = 2.0 if n == len(items) - 1 else cum + w / total
        rows.append((key, code, cum, hi))
        cum = hi


def _table(con: duckdb.DuckDBPyConnection, name: str, columns: list[tuple[str, str]],
           rows: list[tuple]) -> None:
    """Create a table from Python rows in one statement (executemany is far too slow)."""
    data = [list(col) for col in zip(*rows)] if rows else [[] for _ in columns]
    select = ", ".join(f"CAST(unnest(${k + 1}) AS {typ}) AS {col}" for k, (col, typ) in enumerate(columns))
    con.execute(f"CREATE TABLE {name} AS SELECT {select}", data)


def generate(out_dir: Path | str, *, seed: int = DEFAULT_SEED, months: int = DEFAULT_MONTHS,
             dossiers_per_month: int = DEFAULT_PER_MONTH, end: dt.date | str | None = None,
             go_live: dt.date | str | None = None, reference: Path | str = REFERENCE_PATH) -> dict[str, Any]:
    """Write dossiers.csv and events.csv into out_dir; return paths, counts and the key dates.

    end: exclusive end of the reception period and snapshot date (default 2026-01-01, so a
    default run covers 2025: Tết, the department merger, the two-tier reform). go_live: the 2.0
    system's go-live (default: six months before end, or half the period when shorter).
    """
    t0 = time.perf_counter()
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise DemoDataError(f"seed must be a whole number, got {seed!r}")
    if not isinstance(months, int) or not 1 <= months <= 120:
        raise DemoDataError(f"months must be a whole number from 1 to 120, got {months!r}")
    if not isinstance(dossiers_per_month, int) or dossiers_per_month < 1:
        raise DemoDataError(f"dossiers_per_month must be a positive whole number, got {dossiers_per_month!r}")
    end = _as_date(end, "end") or DEFAULT_END
    start = _add_months(end, -months)
    go_live = _as_date(go_live, "go_live") or _add_months(end, -min(6, max(1, months // 2)))
    as_of = dt.datetime.combine(end, dt.time())
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DemoDataError(f"{out}: cannot create the output directory: {e}") from None
    dossiers_path, events_path = out / "dossiers.csv", out / "events.csv"

    ref = load_reference(reference)
    missing = sorted(set(PROCEDURE_MIX) - set(ref["procedures"]))
    if missing:
        raise DemoDataError(f"{reference}: procedures used by the demo mix are missing: {', '.join(missing)}")

    cal = _Calendar(start - dt.timedelta(days=7), end + dt.timedelta(days=800))
    total = months * dossiers_per_month
    plan = _daily_plan(cal, start, end, total, seed, go_live)
    period_of, local_rows = _local_buckets(ref, start, end, [d for d, _, _ in plan])
    handler_rows = _handlers(ref, start, end)

    # procedure buckets: all procedures on working days, online-capable ones on days off
    mix = sorted(PROCEDURE_MIX.items())
    proc_rows: list[tuple[bool, str, float, float]] = []
    _bounds(proc_rows, False, [(c, w) for c, (w, _) in mix])
    _bounds(proc_rows, True, [(c, w) for c, (w, _) in mix if ref["procedures"][c]["online_level"] != "none"])
    # supplement eligibility: procedures of two working days or more
    def eligible(pr: dict[str, Any]) -> bool:
        return pr["time_unit"] in ("working_days", "calendar_days") and float(pr["time_limit"]) >= 2
    elig_share = sum(w for c, (w, _) in mix if eligible(ref["procedures"][c])) / sum(w for _, (w, _) in mix)
    p_supp = min(0.6, TARGET_SUPPLEMENT / max(elig_share, 1e-9))

    con = duckdb.connect(":memory:")
    try:
        con.execute("SET preserve_insertion_order = true")
        cal.install(con)
        con.execute(f"CREATE MACRO U(i, s) AS (CAST(hash(i, s, {int(seed)}) >> 11 AS DOUBLE) / 9007199254740992.0)")
        con.execute("CREATE MACRO fmt(ts) AS strftime(ts, '%Y-%m-%d %H:%M:%S')")
        con.execute("CREATE MACRO at_sec(d, s) AS (CAST(d AS TIMESTAMP) + to_seconds(CAST(s AS BIGINT)))")
        # clock start index after a reception/completion at instant ts (15:00 rule, days off)
        con.execute("""CREATE MACRO restart_idx(ts) AS CASE
            WHEN isw(ts) AND (hour(ts) * 3600 + minute(ts) * 60 + second(ts)) < 54000 THEN curi(ts)
            WHEN isw(ts) THEN nexti(ts) ELSE curi(ts) END""")
        # working-day length of the period for a clock starting at index idx
        con.execute("""CREATE MACRO dlen(unit, n, idx) AS CASE unit
            WHEN 'working_days' THEN CAST(ceil(n) AS BIGINT)
            WHEN 'same_day' THEN 0
            WHEN 'calendar_days' THEN curi(wdd(idx) + CAST(ceil(n) AS INTEGER)) - idx
            WHEN 'working_hours' THEN CAST(floor(n / 8) AS BIGINT)
            ELSE CAST(ceil(n) AS BIGINT) END""")

        day_rows, first_i = [], 0
        for (d, cnt, p), pid in zip(plan, period_of):
            day_rows.append((d, cnt, first_i, p, pid))
            first_i += cnt
        _table(con, "days", [("d", "DATE"), ("cnt", "BIGINT"), ("first_i", "BIGINT"),
                             ("p_online", "DOUBLE"), ("period_id", "INTEGER")], day_rows)
        _table(con, "local_bounds", [("period_id", "INTEGER"), ("agency_code", "VARCHAR"),
                                     ("lo", "DOUBLE"), ("hi", "DOUBLE")], local_rows)
        _table(con, "proc_bounds", [("online_only", "BOOLEAN"), ("code", "VARCHAR"),
                                    ("lo", "DOUBLE"), ("hi", "DOUBLE")], proc_rows)
        # equality-joinable buckets for the weighted picks
        con.execute("""CREATE TABLE local_bucket AS SELECT lb.period_id, CAST(r.b AS INTEGER) AS b, lb.agency_code
            FROM range(10000) r(b) JOIN local_bounds lb ON (r.b + 0.5) / 10000 >= lb.lo AND (r.b + 0.5) / 10000 < lb.hi""")
        con.execute("""CREATE TABLE proc_bucket AS SELECT pb.online_only, CAST(r.b AS INTEGER) AS b, pb.code
            FROM range(100000) r(b) JOIN proc_bounds pb ON (r.b + 0.5) / 100000 >= pb.lo AND (r.b + 0.5) / 100000 < pb.hi""")
        _table(con, "proc_handler", [("code", "VARCHAR"), ("agency_code", "VARCHAR"),
                                     ("from_d", "DATE"), ("to_d", "DATE")], handler_rows)
        _table(con, "procs", [("code", "VARCHAR"), ("name", "VARCHAR"), ("field", "VARCHAR"),
                              ("time_limit", "DOUBLE"), ("time_unit", "VARCHAR"), ("online_level", "VARCHAR"),
                              ("is_local", "BOOLEAN"), ("lvl", "DOUBLE"), ("risk", "DOUBLE"), ("elig", "BOOLEAN")], [
            (c, ref["procedures"][c]["name"], ref["procedures"][c]["field"],
             float(ref["procedures"][c]["time_limit"]), ref["procedures"][c]["time_unit"],
             ref["procedures"][c]["online_level"], h == LOCAL,
             ONLINE_LEVEL_FACTOR.get(ref["procedures"][c]["online_level"], 0.0),
             FIELD_RISK.get(ref["procedures"][c]["field"], 1.0), eligible(ref["procedures"][c]))
            for c, (_, h) in mix])
        _table(con, "agencies", [("code", "VARCHAR"), ("name", "VARCHAR"), ("amult", "DOUBLE")], [
            (code, a["name"], 0.35 + 2.4 * random.Random(f"{seed}:{code}").random() ** 2)
            for code, a in sorted(ref["agencies"].items())])

        params = {
            "as_of": as_of, "go_live": dt.datetime.combine(go_live, dt.time()),
            "p_supp": p_supp, "start": dt.datetime.combine(start, dt.time()),
        }
        _run_pipeline(con, params)

        counts = dict(con.execute("SELECT state, count(*) FROM dossier_out GROUP BY state ORDER BY state").fetchall())
        n_rows = con.execute("SELECT count(*) FROM dossier_out").fetchone()[0]
        n_events = con.execute("SELECT count(*) FROM event_out").fetchone()[0]
        cols = ", ".join(CANONICAL_COLUMNS)
        ecols = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
        # write next to the target and rename, so a failed run never leaves half a file behind
        for target, select in (
            (dossiers_path, f"SELECT {cols} FROM dossier_out ORDER BY received_at, dossier_code"),
            (events_path, f'SELECT {ecols} FROM event_out ORDER BY dossier_code, "at", event'),
        ):
            tmp = target.with_name(target.name + ".part")
            try:
                con.execute(f"COPY ({select}) TO '{_sql_path(tmp)}' (FORMAT csv, HEADER, DELIMITER ',')")
                os.replace(tmp, target)
            except (duckdb.IOException, OSError) as e:
                tmp.unlink(missing_ok=True)
                raise DemoDataError(f"{target}: cannot write the demo file: {e}") from None
    finally:
        con.close()
    return {
        "dossiers": dossiers_path,
        "events": events_path,
        "reference": Path(reference),
        "rows": int(n_rows),
        "events_rows": int(n_events),
        "states": {k: int(v) for k, v in counts.items()},
        "seed": seed,
        "start": start,
        "end": end,
        "as_of": as_of,
        "go_live": go_live,
        "duration_s": round(time.perf_counter() - t0, 3),
    }


def _sql_path(p: Path) -> str:
    return str(p).replace("'", "''")


def _run_pipeline(con: duckdb.DuckDBPyConnection, prm: dict[str, Any]) -> None:
    T = f"TIMESTAMP '{prm['as_of']:%Y-%m-%d %H:%M:%S}'"
    GO = f"TIMESTAMP '{prm['go_live']:%Y-%m-%d %H:%M:%S}'"
    p_supp = repr(float(prm["p_supp"]))
    START = f"TIMESTAMP '{prm['start']:%Y-%m-%d %H:%M:%S}'"
    # how far into the period a dossier came (0 to 1): digitisation rises over the months
    frac = f"(date_diff('second', {START}, received_at) / greatest(1, date_diff('second', {START}, {T})))"
    resolved = f"state IN ({quoted_list(RESOLVED_STATES)})"

    # 1. one row per dossier: day, procedure, channel, reception time, agency
    con.execute("""
    CREATE VIEW s1 AS
    WITH a AS (
        SELECT d AS rd, first_i + unnest(range(cnt)) AS i, p_online, period_id FROM days
    ), b AS (
        SELECT *, isw(rd) AS rwork FROM a
    ), c AS (
        SELECT b.*, p.code AS procedure_code, p.time_limit,
               p.time_unit, p.is_local, p.lvl, p.risk, p.elig,
               CASE WHEN NOT rwork THEN 'online'
                    WHEN U(i, 2) < least(0.95, p_online * p.lvl) THEN 'online'
                    WHEN U(i, 3) < 0.04 THEN 'postal' ELSE 'direct' END AS channel
        FROM b
        JOIN proc_bucket pb ON pb.online_only = NOT b.rwork AND pb.b = CAST(floor(U(b.i, 1) * 100000) AS INTEGER)
        JOIN procs p ON p.code = pb.code
    ), e AS (
        SELECT c.*, CAST(floor(CASE
            WHEN channel = 'online' AND NOT rwork THEN 25200 + U(i, 5) * 54000
            WHEN channel = 'online' AND U(i, 4) < 0.72 THEN 25200 + U(i, 5) * 36000
            WHEN channel = 'online' AND U(i, 4) < 0.95 THEN 61200 + U(i, 5) * 21600
            WHEN channel = 'online' THEN (82800 + U(i, 5) * 30600) % 86400
            WHEN U(i, 4) < 0.57 THEN 25200 + U(i, 5) * 16200
            ELSE 48600 + pow(U(i, 5), 1.3) * 12600 END) AS BIGINT) AS rsec
        FROM c
    )
    SELECT e.*, at_sec(rd, rsec) AS received_at,
           coalesce(lb.agency_code, h.agency_code) AS agency_code
    FROM e
    LEFT JOIN local_bucket lb ON e.is_local AND lb.period_id = e.period_id
                              AND lb.b = CAST(floor(U(e.i, 6) * 10000) AS INTEGER)
    LEFT JOIN proc_handler h ON NOT e.is_local AND h.code = e.procedure_code
                             AND e.rd >= h.from_d AND e.rd < h.to_d
    """)

    # 2. outcome class, exclusions, supplement cycles (clock restarts from each completion)
    con.execute(f"""
    CREATE VIEW s2 AS
    WITH a AS (
        SELECT s1.*, ag.amult,
               restart_idx(received_at) AS idx0,
               CASE WHEN U(i, 10) < {P_WITHDRAWN} THEN 'withdrawn'
                    WHEN U(i, 10) < {P_WITHDRAWN + P_REJECTED} THEN 'rejected' END AS excl,
               U(i, 14) < {P_STUCK} AS stuck
        FROM s1 JOIN agencies ag ON ag.code = s1.agency_code
    ), b AS (
        SELECT a.*,
               CASE WHEN excl IS NULL AND elig AND U(i, 11) < {p_supp} THEN
                    CASE WHEN U(i, 12) < 0.85 THEN 1 WHEN U(i, 12) < 0.97 THEN 2 ELSE 3 END
                    ELSE 0 END AS ncyc,
               U(i, 30) < {P_ABANDON} AS abandon_draw
        FROM a
    ), c1 AS (
        SELECT b.*,
               at_sec(wdd(idx0 + 1 + floor(U(i, 21) * greatest(1, dlen(time_unit, time_limit, idx0) - 1))),
                      27000 + U(i, 24) * 32400) AS req1
        FROM b
    ), c1b AS (
        SELECT *, {_rec_sql('req1', 27)} AS rec1 FROM c1
    ), c2 AS (
        SELECT *, restart_idx(rec1) AS idx1 FROM c1b
    ), c2b AS (
        SELECT *, at_sec(wdd(idx1 + 1 + floor(U(i, 22) * greatest(1, dlen(time_unit, time_limit, idx1) - 1))),
                         27000 + U(i, 25) * 32400) AS req2 FROM c2
    ), c3 AS (
        SELECT *, {_rec_sql('req2', 28)} AS rec2 FROM c2b
    ), c3b AS (
        SELECT *, restart_idx(rec2) AS idx2 FROM c3
    ), c4 AS (
        SELECT *, at_sec(wdd(idx2 + 1 + floor(U(i, 23) * greatest(1, dlen(time_unit, time_limit, idx2) - 1))),
                         27000 + U(i, 26) * 32400) AS req3 FROM c3b
    ), c5 AS (
        SELECT *, {_rec_sql('req3', 29)} AS rec3 FROM c4
    )
    SELECT * EXCLUDE (req1, rec1, req2, rec2, req3, rec3, idx1, idx2),
           CASE WHEN ncyc >= 1 THEN req1 END AS req1,
           CASE WHEN ncyc >= 2 THEN req2 END AS req2,
           CASE WHEN ncyc >= 3 THEN req3 END AS req3,
           CASE WHEN ncyc > 1 OR (ncyc = 1 AND NOT abandon_draw) THEN rec1 END AS rec1,
           CASE WHEN ncyc > 2 OR (ncyc = 2 AND NOT abandon_draw) THEN rec2 END AS rec2,
           CASE WHEN ncyc = 3 AND NOT abandon_draw THEN rec3 END AS rec3,
           ncyc > 0 AND abandon_draw AS abandoned,
           CASE ncyc WHEN 0 THEN received_at WHEN 1 THEN rec1 WHEN 2 THEN rec2 ELSE rec3 END AS clock_at,
           CASE ncyc WHEN 0 THEN idx0 WHEN 1 THEN idx1 WHEN 2 THEN idx2 ELSE restart_idx(rec3) END AS idx_f
    FROM c5
    """)

    # 3. due date, true finish, return, apology letter
    con.execute(f"""
    CREATE VIEW s3 AS
    WITH a AS (
        SELECT s2.*, dlen(time_unit, time_limit, idx_f) AS dlen_f,
               least(0.5, {BASE_OVERDUE} * amult * risk) AS p_over
        FROM s2
    ), a2 AS (
        -- the first day the result can come out: the day the clock starts, or the day the
        -- dossier arrived when that was a working day before closing time
        SELECT a.*, idx_f + dlen_f AS due_idx,
               CASE WHEN isw(clock_at) AND hour(clock_at) < 17 THEN curi(clock_at) ELSE idx_f END AS fp_idx
        FROM a
    ), b AS (
        SELECT a2.*,
               CASE WHEN U(i, 13) < p_over THEN 'overdue'
                    WHEN due_idx > fp_idx AND U(i, 13) < p_over + (1 - p_over) * {EARLY_SHARE} THEN 'early'
                    ELSE 'on_time' END AS cls,
               -- working hours: start second of the clock and due second on the due day
               CASE WHEN CAST(clock_at AS DATE) = wdd(idx_f)
                         AND (hour(clock_at) * 3600 + minute(clock_at) * 60) BETWEEN 25200 AND 54000
                    THEN hour(clock_at) * 3600 + minute(clock_at) * 60 ELSE 27000 END AS s_sec
        FROM a2
    ), c AS (
        SELECT b.*,
               least(61200, s_sec + (CAST(time_limit AS BIGINT) % 8) * 3600
                     + CASE WHEN s_sec < 41400 AND s_sec + (CAST(time_limit AS BIGINT) % 8) * 3600 > 41400
                            THEN 7200 ELSE 0 END) AS due_sec,
               CASE cls WHEN 'early' THEN fp_idx + CAST(floor(U(i, 15) * (due_idx - fp_idx)) AS BIGINT)
                        WHEN 'on_time' THEN idx_f + dlen_f
                        ELSE idx_f + dlen_f + 1 + CAST(least(60, floor(-ln(1 - U(i, 16)) * 4)) AS BIGINT)
               END AS fidx
        FROM b
    ), d AS (
        SELECT c.*,
               greatest(
                   at_sec(wdd(fidx), CASE WHEN time_unit = 'working_hours' AND cls = 'on_time'
                                          THEN 25200 + U(i, 17) * greatest(0, due_sec - 25200)
                                          ELSE 27000 + U(i, 17) * 34200 END),
                   clock_at + to_seconds(CAST(600 + U(i, 18) * 8400 AS BIGINT))) AS fin,
               CASE WHEN U(i, 33) < 0.25 THEN NULL
                    WHEN U(i, 34) < 0.6 THEN 0 WHEN U(i, 34) < 0.85 THEN 1
                    ELSE 2 + CAST(floor(U(i, 35) * 4) AS BIGINT) END AS ret_lag,
               at_sec(wdd(idx0 + 1 + CAST(floor(U(i, 19) * 3) AS BIGINT)), 27000 + U(i, 20) * 32400) AS excl_at
        FROM c
    )
    SELECT d.*,
           CASE WHEN ret_lag IS NOT NULL THEN
                greatest(at_sec(wdd(fidx + ret_lag), 27000 + U(i, 36) * 34200),
                         fin + to_seconds(CAST(300 + U(i, 37) * 5100 AS BIGINT))) END AS ret,
           CASE WHEN (cls = 'overdue' OR stuck) AND excl IS NULL AND NOT abandoned
                     AND time_unit <> 'same_day' AND dlen_f >= 1 AND U(i, 31) < {P_APOLOGY}
                THEN greatest(at_sec(wdd(due_idx - 1), 27000 + U(i, 38) * 32400),
                              clock_at + INTERVAL 30 MINUTE) END AS apology_at,
           at_sec(wdd(due_idx + 2 + CAST(floor(U(i, 32) * 6) AS BIGINT)), 61200) AS new_due
    FROM d
    """)

    # 4. the state at the snapshot, the vendor's figures, the national-portal sync
    con.execute(f"""
    CREATE VIEW s4 AS
    WITH a AS (
        SELECT s3.*,
               CASE WHEN excl IS NOT NULL THEN CASE WHEN excl_at < {T} THEN excl ELSE 'processing' END
                    WHEN abandoned THEN
                        CASE WHEN coalesce(req3, req2, req1) <= {T} - INTERVAL {ABANDON_WITHDRAW_DAYS} DAY
                             THEN 'withdrawn' ELSE 'processing' END
                    WHEN stuck OR fin >= {T} THEN 'processing'
                    WHEN ret IS NOT NULL AND ret < {T} THEN 'returned'
                    ELSE 'finished' END AS state,
               CASE WHEN received_at < {GO} THEN '1.0' ELSE '2.0' END AS source_system,
               CASE WHEN vendor_work(rd) AND hour(received_at) < 17 THEN vcuri(rd) ELSE vnexti(rd) END AS v_start
        FROM s3
    ), b AS (
        SELECT a.*,
               CASE WHEN state IN ({quoted_list(RESOLVED_STATES)}) THEN fin END AS finished_at,
               CASE WHEN state = 'returned' THEN ret WHEN state = 'rejected' THEN excl_at END AS returned_at,
               CASE WHEN req3 < {T} THEN req3 WHEN req2 < {T} THEN req2 WHEN req1 < {T} THEN req1 END
                   AS supplement_requested_at,
               CASE WHEN req3 < {T} THEN (CASE WHEN rec3 < {T} THEN rec3 END)
                    WHEN req2 < {T} THEN (CASE WHEN rec2 < {T} THEN rec2 END)
                    WHEN req1 < {T} THEN (CASE WHEN rec1 < {T} THEN rec1 END) END AS supplement_received_at,
               CASE WHEN apology_at < {T} THEN new_due END AS extended_due_at,
               CASE WHEN apology_at < {T} THEN apology_at END AS apology_done_at,
               -- the vendor's due date: no 15:00 rule (only office closing at 17:00 moves a
               -- reception to the next working day), swapped Saturdays and days off ignored,
               -- calendar days counted from the reception day, never restarted by a supplement
               CASE time_unit
                    WHEN 'working_days' THEN vwdd(v_start + CAST(ceil(time_limit) AS BIGINT))
                    WHEN 'same_day' THEN vwdd(v_start)
                    WHEN 'calendar_days' THEN rd + CAST(ceil(time_limit) AS INTEGER) - 1
               END AS v_due_date
        FROM a
    ), c AS (
        SELECT b.*,
               CASE WHEN time_unit = 'working_hours'
                    THEN received_at + to_seconds(CAST(time_limit * 3600 AS BIGINT))
                    ELSE at_sec(v_due_date, 61200) END AS reported_due_at
        FROM b
    ), d AS (
        SELECT c.*,
               CASE WHEN state IN ({quoted_list(EXCLUDED_STATES)}) THEN 'excluded'
                    WHEN state = 'processing' THEN
                         CASE WHEN {T} > reported_due_at THEN 'pending_overdue' ELSE 'pending_in_time' END
                    WHEN (time_unit = 'working_hours' AND finished_at > reported_due_at)
                         OR (time_unit <> 'working_hours' AND CAST(finished_at AS DATE) > v_due_date) THEN 'overdue'
                    WHEN CAST(finished_at AS DATE) < CAST(reported_due_at AS DATE) THEN 'early'
                    ELSE 'on_time' END AS v_status,
               greatest(received_at, supplement_requested_at, supplement_received_at, apology_done_at,
                        finished_at, returned_at,
                        CASE WHEN state IN ({quoted_list(EXCLUDED_STATES)}) THEN
                             CASE WHEN excl IS NOT NULL THEN excl_at ELSE coalesce(req3, req2, req1)
                                  + INTERVAL {ABANDON_WITHDRAW_DAYS} DAY END END) AS last_change
        FROM c
    ), e AS (
        SELECT d.*,
               CASE WHEN source_system = '2.0' AND v_status IN ('early', 'on_time')
                         AND cls IN ('early', 'on_time') AND U(i, 40) < {P_MISLABEL_20}
                    THEN 'overdue' ELSE v_status END AS reported_status,
               last_change + to_seconds(CAST(CASE WHEN last_change < {GO} THEN 60 + U(i, 41) * 1740
                    ELSE 300 + least(172800, -ln(1 - U(i, 41)) * 10800) END AS BIGINT)) AS sync_try,
               received_at + to_seconds(CAST(60 + U(i, 44) * 600 AS BIGINT)) AS sync_first,
               source_system = '1.0' AND state <> 'processing' AND last_change >= {GO} AS lost_in_migration
        FROM d
    )
    SELECT e.*,
           CASE WHEN lost_in_migration AND U(i, 42) < {P_UNSYNCED_10} THEN 'none'
                WHEN (lost_in_migration AND U(i, 42) < {P_UNSYNCED_10 + P_STALE_10})
                     OR U(i, 43) < {P_STALE_OTHER} OR sync_try >= {T} THEN
                     CASE WHEN sync_first < {T} THEN 'stale' ELSE 'none' END
                ELSE 'current' END AS sync_kind
    FROM e
    """)

    # 5. output relations with the canonical columns (text), dossier codes per agency and day
    con.execute(f"""
    CREATE TABLE dossier_out AS
    SELECT agency_code || '-' || strftime(rd, '%y%m%d') || '-'
               || printf('%04d', row_number() OVER (PARTITION BY agency_code, rd ORDER BY received_at, i))
               AS dossier_code,
           agency_code, a_name AS agency_name, procedure_code, p_name AS procedure_name, p_field AS field, channel,
           fmt(received_at) AS received_at,
           CASE WHEN time_limit = floor(time_limit) THEN CAST(CAST(time_limit AS BIGINT) AS VARCHAR)
                ELSE CAST(time_limit AS VARCHAR) END AS time_limit,
           time_unit,
           fmt(coalesce(supplement_requested_at, late_req)) AS supplement_requested_at,
           fmt(coalesce(supplement_received_at, orphan_rec)) AS supplement_received_at,
           fmt(extended_due_at) AS extended_due_at,
           fmt(finished_at) AS finished_at,
           fmt(returned_at) AS returned_at,
           state,
           fmt(reported_due_at) AS reported_due_at,
           reported_status,
           source_system,
           CASE sync_kind WHEN 'current' THEN fmt(sync_try) WHEN 'stale' THEN fmt(sync_first) END AS synced_at,
           CASE sync_kind WHEN 'current' THEN state WHEN 'stale' THEN 'processing' END AS synced_status,
           -- the 766 scorecard's inputs: online dossiers mostly paid online, digitisation rising over
           -- the period, about two in five resolved dossiers rated (mostly 4-5, worse when overdue)
           CASE WHEN U(i, 70) < CASE WHEN channel = 'online' THEN {P_PAID_ONLINE} ELSE {P_PAID_ONLINE_DIRECT} END
                THEN 'true' ELSE 'false' END AS paid_online,
           CASE WHEN U(i, 71) < CASE WHEN channel = 'online' THEN {P_DIGITISED_ONLINE}
                                     ELSE {P_DIGITISED_FROM} + {P_DIGITISED_GAIN} * {frac} END
                THEN 'true' ELSE 'false' END AS dossier_digitised,
           CASE WHEN {resolved} THEN CASE WHEN U(i, 72) < {P_RESULT_FROM} + {P_RESULT_GAIN} * {frac}
                THEN 'true' ELSE 'false' END END AS result_digitised,
           CASE WHEN {resolved} AND U(i, 73) < {P_RATED} THEN
                CAST(CASE WHEN cls = 'overdue' THEN
                               CASE WHEN U(i, 74) < 0.15 THEN 1 WHEN U(i, 74) < 0.27 THEN 2 WHEN U(i, 74) < 0.45 THEN 3
                                    WHEN U(i, 74) < 0.70 THEN 4 ELSE 5 END
                          ELSE CASE WHEN U(i, 74) < 0.03 THEN 1 WHEN U(i, 74) < 0.06 THEN 2 WHEN U(i, 74) < 0.14 THEN 3
                                    WHEN U(i, 74) < 0.42 THEN 4 ELSE 5 END END AS VARCHAR) END AS satisfaction_rating,
           i, req1, rec1, req2, rec2, req3, rec3, apology_done_at,
           late_req, orphan_rec
    FROM (SELECT s4.*,
                -- what an audit finds in real exports: a supplement requested after the deadline had
                -- passed (it stops nothing), and a receipt recorded with no request before it
                CASE WHEN cls = 'overdue' AND ncyc = 0 AND excl IS NULL AND time_unit = 'working_days'
                          AND U(i, 61) < {P_LATE_REQUEST}
                          AND at_sec(wdd(due_idx + 1), 25500) < least(fin, {T})
                     THEN at_sec(wdd(due_idx + 1), 25500) END AS late_req,
                CASE WHEN ncyc = 0 AND excl IS NULL AND U(i, 62) < {P_ORPHAN_RECEIPT}
                          AND clock_at + INTERVAL 1 DAY < least(fin, {T})
                     THEN clock_at + INTERVAL 1 DAY END AS orphan_rec
          FROM s4) s4
    JOIN (SELECT code AS a_code, name AS a_name FROM agencies) ag ON ag.a_code = s4.agency_code
    JOIN (SELECT code AS p_code, name AS p_name, field AS p_field FROM procs) p ON p.p_code = s4.procedure_code
    """)
    req = EVENT_DETAIL[SUPPLEMENT_REQUESTED]
    rec = EVENT_DETAIL[SUPPLEMENT_RECEIVED]
    parts = []
    for k in (1, 2, 3):
        parts.append(f"SELECT dossier_code, '{SUPPLEMENT_REQUESTED}' AS event, req{k} AS ts, "
                     f"'{req.format(k=k)}' AS detail FROM dossier_out WHERE req{k} < {T}")
        parts.append(f"SELECT dossier_code, '{SUPPLEMENT_RECEIVED}', rec{k}, "
                     f"'{rec.format(k=k)}' FROM dossier_out WHERE rec{k} < {T}")
    parts.append(f"SELECT dossier_code, '{SUPPLEMENT_REQUESTED}', late_req, '{req.format(k=1)}' "
                 f"FROM dossier_out WHERE late_req IS NOT NULL")
    parts.append(f"SELECT dossier_code, '{SUPPLEMENT_RECEIVED}', orphan_rec, '{rec.format(k=1)}' "
                 f"FROM dossier_out WHERE orphan_rec IS NOT NULL")
    parts.append(f"SELECT dossier_code, '{EXTENDED}', apology_done_at, '{EVENT_DETAIL[EXTENDED]}' "
                 f"FROM dossier_out WHERE apology_done_at IS NOT NULL")
    con.execute("CREATE TABLE event_raw AS " + " UNION ALL ".join(parts))
    # ISO text sorts like the instant, so the COPY can order by "at"
    con.execute('CREATE TABLE event_out AS SELECT dossier_code, event, fmt(ts) AS "at", detail FROM event_raw')


def _rec_sql(req: str, salt: int) -> str:
    """The completed dossier comes back some days after the request: online any day and hour,
    in person on the next working day at office hours."""
    gap = f"(1 + CAST(least(44, floor(-ln(1 - U(i, {salt})) * 5)) AS INTEGER))"
    day = f"(CAST({req} AS DATE) + {gap})"
    return (f"CASE WHEN channel = 'online' THEN at_sec({day}, 25200 + U(i, {salt + 50}) * 54000) "
            f"ELSE at_sec(wdd(curi({day})), 27000 + U(i, {salt + 50}) * 32400) END")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write realistic demo dossiers (dossiers.csv, events.csv).")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--months", type=int, default=DEFAULT_MONTHS)
    ap.add_argument("--per-month", type=int, default=DEFAULT_PER_MONTH)
    ap.add_argument("--end", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (exclusive)")
    args = ap.parse_args(argv)
    try:
        res = generate(args.out_dir, seed=args.seed, months=args.months,
                       dossiers_per_month=args.per_month, end=args.end)
    except DemoDataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{res['rows']} dossiers, {res['events_rows']} events, {res['start']} to {res['end']} "
          f"(snapshot {res['as_of']}, 2.0 go-live {res['go_live']}) in {res['duration_s']} s")
    print(f"  {res['dossiers']}\n  {res['events']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
