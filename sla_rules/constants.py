"""Constants shared by the SQL engine and the explanations (units, columns, statuses)."""
from __future__ import annotations

from datetime import date, datetime

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
STATUSES = ("early", "on_time", "overdue", "pending_in_time", "pending_overdue",
            "waiting_supplement", "excluded", "no_deadline")

# clock kinds
CLK_DAYS, CLK_CAL, CLK_SAME, CLK_HOURS = 1, 2, 3, 4
