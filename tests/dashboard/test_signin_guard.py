"""Failed sign-ins are held per account and per client address, in a file beside the users file:
the backoff grows, the account locks, and neither a new browser tab (a new Streamlit session) nor
a restart (a new guard over the same file) starts the count again. The real dashboard script under
Streamlit's AppTest, a real file, real threads."""
from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from config.app import SignInConfig, load_config
from config.errors import ConfigError
from dashboard.signin_guard import SignInGuard, log_to, state_file
from dashboard.users import UserFile

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "dashboard" / "app.py")
PASSWORD = "correct-horse-1"
WRONG = "wrong-horse-77"


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def _guard(path: Path, clock: Clock, **settings) -> SignInGuard:
    return SignInGuard(path, SignInConfig(**settings), clock=clock)


def test_the_backoff_grows_then_the_account_locks_and_a_restart_keeps_it(tmp_path):
    clock, path = Clock(), tmp_path / "users.signin.json"
    g = _guard(path, clock)
    acct = g.account_key("lanhdao", known=True)
    waits = []
    for _ in range(4):
        assert g.begin(acct, None).allowed
        hold = g.failed(acct, None)
        waits.append(hold.wait_s)
        held = g.begin(acct, None)              # at once: held for the whole wait
        assert not held.allowed and held.wait_s == hold.wait_s and not held.locked
        clock.t += hold.wait_s
    assert waits == [1, 2, 4, 8]
    assert g.begin(acct, None).allowed
    hold = g.failed(acct, None)                 # the 5th failure in a row: locked for 15 minutes
    assert hold.locked and hold.wait_s == 15 * 60
    clock.t += 60
    restarted = _guard(path, clock)              # another process, another session: the same hold
    held = restarted.begin(acct, None)
    assert not held.allowed and held.locked and held.wait_s == 14 * 60
    clock.t += 14 * 60
    assert restarted.begin(acct, None).allowed
    assert restarted.failed(acct, None).locked, "still failing after a lock: locked again at once"
    clock.t += 15 * 60
    assert restarted.begin(acct, None).allowed
    restarted.succeeded(acct, None)              # a success clears the account's count
    assert restarted.begin(acct, None).allowed
    assert restarted.failed(acct, None).wait_s == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_failures_are_forgotten_after_a_while(tmp_path):
    clock = Clock()
    g = _guard(tmp_path / "s.json", clock, lock_after=3, forget_after_minutes=30)
    acct = g.account_key("ict", known=True)
    for _ in range(2):
        clock.t += 10
        g.begin(acct, None)
        g.failed(acct, None)
    clock.t += 31 * 60
    g.begin(acct, None)
    assert g.failed(acct, None).wait_s == 1, "the two failures of half an hour ago no longer count"
    assert '"failures":1' in (tmp_path / "s.json").read_text(encoding="utf-8")


def test_an_address_spraying_many_names_is_held_and_others_are_not(tmp_path):
    clock = Clock()
    g = _guard(tmp_path / "s.json", clock, address_lock_after=4, backoff_s=0)
    for i in range(4):
        acct = g.account_key(f"user{i}", known=True)
        assert g.begin(acct, "203.0.113.7").allowed
        hold = g.failed(acct, "203.0.113.7")
    assert hold.locked and hold.by_address
    other = g.account_key("user9", known=True)
    held = g.begin(other, "203.0.113.7")
    assert not held.allowed and held.by_address and held.wait_s == 15 * 60
    assert g.begin(other, "198.51.100.2").allowed, "another address is not held"
    g.succeeded(other, "198.51.100.2")
    assert not g.begin(other, "203.0.113.7").allowed, "a success elsewhere does not clear the address"


def test_names_that_are_no_account_are_held_alike_and_never_written(tmp_path):
    clock, path = Clock(), tmp_path / "s.json"
    g = _guard(path, clock)
    typed = "Hunter2-password-typed-as-a-name"
    known, unknown = g.account_key("lanhdao", known=True), g.account_key(typed, known=False)
    for acct in (known, unknown):
        seq = []
        for _ in range(5):
            g.begin(acct, None)
            seq.append(g.failed(acct, None))
            clock.t += 10
        assert [h.wait_s for h in seq] == [1, 2, 4, 8, 900] and seq[-1].locked
    text = path.read_text(encoding="utf-8")
    assert "lanhdao" in text and typed not in text and typed.lower() not in text.lower()


def test_parallel_attempts_are_held_and_no_failure_is_lost(tmp_path):
    """Several tabs at once: the first attempt reserves the account's next wait, so the others are
    held before their password is checked; failures counted from many threads are all kept."""
    clock = Clock()
    g = _guard(tmp_path / "s.json", clock, lock_after=100, backoff_s=0.5, backoff_max_s=3600)
    acct = g.account_key("lanhdao", known=True)
    results = []
    threads = [threading.Thread(target=lambda: results.append(g.begin(acct, None))) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(h.allowed for h in results) == 1
    g2 = _guard(tmp_path / "s.json", clock, lock_after=100, backoff_s=0, address_lock_after=1000)
    threads = [threading.Thread(target=lambda i=i: g2.failed(g2.account_key(f"n{i % 3}", True), "192.0.2.1"))
               for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = (tmp_path / "s.json").read_text(encoding="utf-8")
    assert '"address:192.0.2.1":{"failures":30' in text


def test_settings_have_defaults_and_are_checked(tmp_path):
    s = load_config(environ={"MOTCUA_STORE__PATH": str(tmp_path / "s.duckdb")}).dashboard.sign_in
    assert (s.backoff_s, s.lock_after, s.lock_minutes, s.address_lock_after) == (1, 5, 15, 20)
    cfg = load_config(environ={"MOTCUA_STORE__PATH": str(tmp_path / "s.duckdb"),
                               "MOTCUA_DASHBOARD__SIGN_IN__LOCK_AFTER": "3"})
    assert cfg.dashboard.sign_in.lock_after == 3
    assert state_file(cfg.users_file) == tmp_path / "users.signin.json"
    bad = tmp_path / "m.yaml"
    bad.write_text("dashboard:\n  sign_in:\n    lock_minutes: 30\n    forget_after_minutes: 10\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="forget_after_minutes"):
        load_config(bad, environ={})


# -- the dashboard --------------------------------------------------------------------------------

@pytest.fixture
def dash(tmp_path, monkeypatch):
    for k in [k for k in os.environ if k.startswith("MOTCUA_")]:
        monkeypatch.delenv(k)
    env = {"MOTCUA_STORE__PATH": str(tmp_path / "data" / "motcua.duckdb"),
           "MOTCUA_DASHBOARD__USERS_FILE": str(tmp_path / "data" / "users.json"),
           "MOTCUA_DASHBOARD__SIGN_IN__LOCK_AFTER": "3"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    UserFile(tmp_path / "data" / "users.json").add("u-admin", "admin", PASSWORD, rounds=4)
    return tmp_path / "data"


def _tab(lang: str = "vi") -> AppTest:
    at = AppTest.from_file(SCRIPT, default_timeout=60).run()
    assert not at.exception
    if lang == "en":
        at.radio(key="lang_choice").set_value("English").run()
    return at


def _sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="login_user").input(name)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def test_a_new_tab_does_not_reset_the_backoff(dash):
    at = _sign_in(_tab(), "u-admin", WRONG)
    assert [e.value for e in at.error] == ["Tên đăng nhập hoặc mật khẩu không đúng."]
    assert [w.value for w in at.warning] == ["Vui lòng đợi 1 giây rồi thử đăng nhập lại."]
    other = _sign_in(_tab(), "u-admin", PASSWORD)      # a new tab, the right password, at once
    assert "user" not in other.session_state
    assert [e.value for e in other.error] == ["Vui lòng đợi 1 giây rồi thử đăng nhập lại."]


def test_a_locked_account_stays_locked_in_every_tab_and_after_a_restart(dash):
    guard_file = state_file(dash / "users.json")
    g = SignInGuard(guard_file, load_config().dashboard.sign_in)   # the wall clock, as the dashboard's
    acct = g.account_key("u-admin", known=True)
    for _ in range(2):                                 # two failures, as a previous process saw them
        g.begin(acct, None)
        g.failed(acct, None)
    time.sleep(2.1)                                    # the backoff of the second failure
    at = _sign_in(_tab(), "u-admin", WRONG)            # the third: the account locks
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in [e.value for e in at.error]
    assert [w.value for w in at.warning] == [
        "Tài khoản tạm khoá do đăng nhập sai nhiều lần: vui lòng thử lại sau 15 phút."]
    for lang, words in (("vi", "Tài khoản tạm khoá do đăng nhập sai nhiều lần: vui lòng thử lại sau 15 phút."),
                        ("en", "Too many failed sign-ins: the account is locked, try again in 15 minutes.")):
        tab = _sign_in(_tab(lang), "u-admin", PASSWORD)  # the right password, in a new tab: still locked
        assert "user" not in tab.session_state
        assert [e.value for e in tab.error] == [words]
    # a name that is no account meets the same answers (nothing tells which names exist)
    at = _sign_in(_tab(), "no-such-user", WRONG)
    assert [w.value for w in at.warning] == ["Vui lòng đợi 1 giây rồi thử đăng nhập lại."]
    # logged, without any password
    log = (dash / "logs" / "motcua.log").read_text(encoding="utf-8")
    assert "sign-in failed: account 'u-admin' from this computer, failure 3 in a row; account locked for 15 min" in log
    assert "sign-in held: account 'u-admin'" in log and "sign-in failed: a name that is no account" in log
    assert WRONG not in log and PASSWORD not in log and "no-such-user" not in log
    assert stat.S_IMODE(guard_file.stat().st_mode) == 0o600


def test_a_good_sign_in_clears_the_count(dash):
    at = _sign_in(_tab(), "u-admin", WRONG)
    time.sleep(1.1)
    at = _sign_in(_tab(), "u-admin", PASSWORD)
    assert at.session_state["user"].username == "u-admin"
    assert "u-admin" not in state_file(dash / "users.json").read_text(encoding="utf-8")


def test_log_to_follows_the_configured_file(tmp_path):
    from dashboard.signin_guard import log

    log_to(tmp_path / "a" / "motcua.log")
    log_to(tmp_path / "b" / "motcua.log")
    log.warning("x")
    assert len(log.handlers) == 1 and (tmp_path / "b" / "motcua.log").read_text(encoding="utf-8").strip().endswith("x")
