"""config/clock.py: one local clock, in the zone the configuration names."""
from __future__ import annotations

import datetime as dt

import pytest

from config import clock
from config.app import load_config


@pytest.fixture
def restore_zone():
    yield
    clock.set_timezone(clock.DEFAULT_TIMEZONE)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def test_the_default_zone_is_the_province_s(tmp_path, monkeypatch, restore_zone):
    monkeypatch.chdir(tmp_path)  # embedded defaults
    load_config(environ={})
    assert clock.timezone_name() == "Asia/Ho_Chi_Minh"
    # UTC+7 all year (no daylight saving time)
    assert abs(clock.local_now() - (_utc_now() + dt.timedelta(hours=7))) < dt.timedelta(seconds=5)
    assert clock.local_now().tzinfo is None


def test_reading_the_configuration_sets_the_zone(tmp_path, monkeypatch, restore_zone):
    monkeypatch.chdir(tmp_path)
    load_config(environ={"MOTCUA_TIMEZONE": "UTC"})
    assert clock.timezone_name() == "UTC"
    assert abs(clock.local_now() - _utc_now()) < dt.timedelta(seconds=5)


def test_conversions_between_instants_and_local_times(restore_zone):
    clock.set_timezone("Asia/Ho_Chi_Minh")
    instant = dt.datetime(2026, 10, 31, 17, 30, tzinfo=dt.timezone.utc)
    assert clock.to_local(instant) == dt.datetime(2026, 11, 1, 0, 30)
    assert clock.to_local(dt.datetime(2026, 11, 1, 0, 30)) == dt.datetime(2026, 11, 1, 0, 30)  # naive: local
    assert clock.aware(dt.datetime(2026, 11, 1, 0, 30)).timestamp() == instant.timestamp()
    assert clock.from_timestamp(instant.timestamp()) == dt.datetime(2026, 11, 1, 0, 30)
