"""The province's clock: "now" and "today" in local civil time, naive as the store keeps times.

The law counts deadlines in local days and the store holds naive local timestamps, so every part
asks this module for the time rather than the machine's clock (a server may run in UTC). The zone
is the configuration's `timezone` (Asia/Ho_Chi_Minh by default); config.app.load_config sets it
once when a process reads its configuration.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"

_zone = ZoneInfo(DEFAULT_TIMEZONE)


def set_timezone(name: str) -> None:
    """Use the zone `name` (an IANA name, validated by AppConfig) from now on."""
    global _zone
    _zone = ZoneInfo(name)


def local_zone() -> ZoneInfo:
    return _zone


def timezone_name() -> str:
    return _zone.key


def local_now() -> dt.datetime:
    """Now in local time, naive (microseconds kept: callers that store seconds drop them)."""
    return dt.datetime.now(_zone).replace(tzinfo=None)


def local_today() -> dt.date:
    return local_now().date()


def to_local(value: dt.datetime) -> dt.datetime:
    """An aware instant as naive local time; a naive one is local time already."""
    return value.astimezone(_zone).replace(tzinfo=None) if value.tzinfo else value


def from_timestamp(ts: float) -> dt.datetime:
    """A POSIX timestamp (a file's mtime, time.time()) as naive local time."""
    return dt.datetime.fromtimestamp(ts, _zone).replace(tzinfo=None)


def aware(value: dt.datetime) -> dt.datetime:
    """A naive local time as an aware one (for a UTC offset or a POSIX timestamp)."""
    return value.replace(tzinfo=_zone) if value.tzinfo is None else value
