"""The dashboard under Streamlit's AppTest, as its tests drive it: a store's environment and the
accounts of every role, signing in, opening a page, and reading its tables and metrics."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard.access import PAGE_ROLES
from dashboard.backend import Backend
from dashboard.users import ROLES, UserFile

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "dashboard" / "app.py")
END = dt.date(2026, 11, 20)
PASSWORD = "correct-horse-1"
AGENCY = "QNG.P.CAMTHANH"
PAGE_FILE = {p: f"pages/{p}.py" for p in PAGE_ROLES}


def env_for(tmp: Path, store: Path) -> dict[str, str]:
    return {"MOTCUA_STORE__PATH": str(store), "MOTCUA_INBOX__PATH": str(tmp / "inbox"),
            "MOTCUA_INBOX__ARCHIVE": str(tmp / "archive"), "MOTCUA_INBOX__REJECTED": str(tmp / "rejected"),
            "MOTCUA_DASHBOARD__USERS_FILE": str(tmp / "users.json")}


def add_users(path: Path) -> None:
    uf = UserFile(path)
    for role in ROLES:
        uf.add(f"u-{role}", role, PASSWORD, agency=AGENCY if role == "agency" else None, rounds=4)


def backend_query(world, name, **params):
    b = Backend(world["cfg"])
    return b.query(name, **params)


def login(role: str, lang: str = "vi") -> AppTest:
    at = AppTest.from_file(SCRIPT, default_timeout=120)
    at.run()
    assert not at.exception
    if lang == "en":
        at.radio(key="lang_choice").set_value("English").run()
    at.text_input(key="login_user").input(f"u-{role}")
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.session_state["user"].role == role
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(PAGE_FILE[page]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [e.value for e in at.error], [e.value for e in at.error]
    return at


def table(at: AppTest, column: str):
    """The first table on the page with this column (AppTest does not keep dataframe keys)."""
    for df in at.dataframe:
        if column in df.value.columns:
            return df.value
    raise KeyError(f"no table with column {column!r}: {[list(d.value.columns) for d in at.dataframe]}")


def metric(at: AppTest, label_start: str) -> str:
    for m in at.metric:
        if m.label.startswith(label_start):
            return m.value
    raise AssertionError(f"no metric {label_start!r}: {[m.label for m in at.metric]}")
