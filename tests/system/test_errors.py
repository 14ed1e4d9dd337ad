"""config/errors.py: every part's user-facing error is a MotcuaError, which app.py prints as one
plain line with exit code 2; anything else stays unexpected (exit 1, details in the log)."""
from __future__ import annotations

import os

import httpx
import pytest

import app  # the entry point under test: app.main maps errors to exit codes
from imports.errors import ImportRefused
from compliance.common import ComplianceRefused
from compliance.period import PeriodError
from config.errors import ConfigError, MotcuaError
from dashboard.launcher import DashboardStartError
from dashboard.users import UserError as AccountError
from loadtests.cli import CliError
from loadtests.runner import Refused
from reports.briefing.model import BriefingError
from sla_rules.calendar_listing import YearOutsideCalendar
from store.errors import StoreError, StoreLockedError
from store.ops import OperationError, OwnerNotAnswering
from store.service import ResourceError
from system import UserError
from testbed.portal.server import PortalStartError


def test_every_user_facing_error_derives_from_the_one_base():
    for cls in (ConfigError, StoreError, StoreLockedError, ResourceError, ComplianceRefused, ImportRefused,
                OperationError, OwnerNotAnswering, UserError, AccountError, BriefingError, CliError, Refused,
                PeriodError, YearOutsideCalendar, DashboardStartError, PortalStartError):
        assert issubclass(cls, MotcuaError), cls
    # what callers caught before still catches them
    assert issubclass(PeriodError, ValueError) and issubclass(YearOutsideCalendar, ValueError)
    assert issubclass(OwnerNotAnswering, httpx.TransportError)


def test_the_vietnamese_message_where_one_was_written():
    e = ImportRefused("x.csv: empty file", message_vi="x.csv: tệp rỗng")
    assert e.text("vi") == "x.csv: tệp rỗng" and e.text("en") == str(e) == "x.csv: empty file"
    assert BriefingError("month 'x'").text("vi") == "month 'x'"  # none written: the English one


@pytest.fixture
def private_store(tmp_path, monkeypatch):
    for k in [k for k in os.environ if k.startswith("MOTCUA_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("MOTCUA_STORE__PATH", str(tmp_path / "data" / "motcua.duckdb"))
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("error", [BriefingError("month '2026-13': expected YYYY-MM, e.g. 2026-10"),
                                   CliError("usage: app.py loadtest compare RUN_A RUN_B"),
                                   StoreError("the store is in use")])
def test_app_prints_one_plain_line_and_exits_2(error, private_store, monkeypatch, capsys):
    def fails(cfg, args):
        raise error

    monkeypatch.setattr(app, "cmd_status", fails)
    assert app.main(["status"]) == 2
    assert capsys.readouterr().err == f"error: {error}\n"


def test_any_other_error_is_unexpected(private_store, monkeypatch, capsys):
    def fails(cfg, args):
        raise KeyError("boom")

    monkeypatch.setattr(app, "cmd_status", fails)
    assert app.main(["status"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unexpected KeyError: 'boom'; details in ") and err.count("\n") == 1
