"""Failed sign-ins to the dashboard, held per account and per client address across browser
sessions and restarts.

The count lives in a small JSON file beside the users file (`<users>.signin.json`, mode 0600),
read and rewritten under an exclusive `flock` for each attempt, so every Streamlit session (each
tab is one) and every later process sees the same count. Settings: `dashboard.sign_in`
(config/app.py SignInConfig).

- After the n-th failure in a row of an account, its next attempt waits backoff_s × 2^(n-1)
  seconds (at most backoff_max_s); from `lock_after` failures on, each failure locks the account
  for `lock_minutes`. A success clears the account's count; otherwise failures are forgotten
  `forget_after_minutes` after the last one.
- The same count per client address (any account names: password spraying), locking it after
  `address_lock_after` failures, without the backoff (an office behind one address would share it).
- An attempt that may go ahead reserves the account's next wait before the password is checked,
  so parallel attempts from several tabs are held as if each had failed.
- Names that are no account are counted like accounts (the answers do not tell which names
  exist), under a keyed hash whose key lives only in memory: the file never holds what someone
  typed as a name, which is sometimes a password.

Every failure and every held attempt is logged (data/logs/motcua.log), never with a password.
"""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.app import SignInConfig

log = logging.getLogger("motcua.dashboard.signin")

MAX_ENTRIES = 10_000           # beyond it the oldest entries are dropped (a flood of made-up names)
_NAME_KEY = secrets.token_bytes(32)


def state_file(users_file: Path | str) -> Path:
    p = Path(users_file)
    return p.with_name(f"{p.stem}.signin.json")


@dataclass(frozen=True)
class Hold:
    """Whether an attempt may go ahead; if not, for how long and why."""

    allowed: bool
    wait_s: int = 0          # whole seconds, rounded up
    locked: bool = False     # a lock of minutes, not the backoff
    by_address: bool = False  # the client address is held, not the account


def log_to(path: Path | str) -> None:
    """Send this module's records to the system's log file (one file: the configured one)."""
    path = Path(path)
    target = str(path.resolve())
    if any(getattr(h, "baseFilename", None) == target for h in log.handlers):
        return
    for h in list(log.handlers):   # the configuration names another store folder now
        log.removeHandler(h)
        h.close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


class SignInGuard:
    def __init__(self, path: Path | str, settings: SignInConfig | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.s = settings or SignInConfig()
        self.clock = clock   # wall time: the holds outlive the process

    # -- keys -----------------------------------------------------------------------------------
    @staticmethod
    def account_key(name: str, known: bool) -> str:
        name = (name or "").strip()
        if known:
            return f"account:{name}"
        digest = hmac.new(_NAME_KEY, name.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:24]
        return f"name:{digest}"

    @staticmethod
    def address_key(address: str | None) -> str | None:
        return f"address:{address}" if address else None

    # -- the file ---------------------------------------------------------------------------------
    def _update(self, change: Callable[[dict[str, Any], float], Any]) -> Any:
        """Run `change(entries, now)` on the file's entries under an exclusive lock and write them back."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+", encoding="utf-8") as f:
                raw = f.read()
                entries: dict[str, Any] = {}
                if raw.strip():
                    try:
                        entries = dict(json.loads(raw).get("entries") or {})
                    except (ValueError, AttributeError, TypeError):
                        log.warning("sign-in state %s was unreadable and is started again", self.path)
                now = self.clock()
                result = change(entries, now)
                self._prune(entries, now)
                f.seek(0)
                f.truncate()
                json.dump({"version": 1, "entries": entries}, f, separators=(",", ":"))
                f.flush()
            return result
        finally:
            os.close(fd)   # releases the lock

    def _prune(self, entries: dict[str, Any], now: float) -> None:
        forget = self.s.forget_after_minutes * 60
        for k in [k for k, e in entries.items()
                  if now >= max(e.get("not_before", 0), e.get("locked_until", 0)) and now - e.get("last", 0) > forget]:
            del entries[k]
        if len(entries) > MAX_ENTRIES:
            for k in sorted(entries, key=lambda k: entries[k].get("last", 0))[: len(entries) - MAX_ENTRIES]:
                del entries[k]

    def _failures(self, e: dict[str, Any], now: float) -> int:
        """Failures in a row still counted (forgotten a while after the last one)."""
        return int(e.get("failures", 0)) if now - e.get("last", 0) <= self.s.forget_after_minutes * 60 else 0

    def _delay(self, failures: int) -> float:
        if failures <= 0 or self.s.backoff_s <= 0:
            return 0.0
        return min(self.s.backoff_s * 2 ** min(failures - 1, 30), self.s.backoff_max_s)

    # -- the attempt ------------------------------------------------------------------------------
    def begin(self, account: str, address: str | None) -> Hold:
        """May this attempt go ahead? If so, the account's next wait is reserved until `succeeded`
        or `failed` says how it went."""
        addr = self.address_key(address)

        def change(entries: dict[str, Any], now: float) -> Hold:
            held = []
            for key in (account, addr):
                e = entries.get(key) if key else None
                if not e:
                    continue
                until = max(e.get("not_before", 0), e.get("locked_until", 0))
                if until > now:
                    held.append((until, e.get("locked_until", 0) > now, key == addr))
            if held:
                until, locked, by_address = max(held)
                return Hold(False, math.ceil(until - now), locked, by_address)
            e = entries.setdefault(account, {})
            e["not_before"] = now + self._delay(self._failures(e, now) + 1)
            return Hold(True)

        hold = self._update(change)
        if not hold.allowed:
            log.warning("sign-in held: %s from %s, %s for %d s more", self._who(account), address or "this computer",
                        "address locked" if hold.by_address else "locked" if hold.locked else "waiting", hold.wait_s)
        return hold

    def succeeded(self, account: str, address: str | None) -> None:
        # the address's count stays: one good account must not clear a spray of others from there
        self._update(lambda entries, now: entries.pop(account, None))

    def failed(self, account: str, address: str | None) -> Hold:
        """Count a failure; the hold that now applies to the next attempt."""
        addr = self.address_key(address)

        def change(entries: dict[str, Any], now: float) -> tuple[Hold, int]:
            e = entries.setdefault(account, {})
            n = self._failures(e, now) + 1
            e.update(failures=n, last=now)
            if n >= self.s.lock_after:
                e["locked_until"], e["not_before"] = now + self.s.lock_minutes * 60, 0
                hold = Hold(False, math.ceil(self.s.lock_minutes * 60), locked=True)
            else:
                e["not_before"] = now + self._delay(n)
                hold = Hold(self._delay(n) == 0, math.ceil(self._delay(n)))
            if addr:
                a = entries.setdefault(addr, {})
                m = self._failures(a, now) + 1
                a.update(failures=m, last=now)
                if self.s.address_lock_after and m >= self.s.address_lock_after:
                    a["locked_until"] = now + self.s.lock_minutes * 60
                    if not hold.locked:
                        hold = Hold(False, math.ceil(self.s.lock_minutes * 60), locked=True, by_address=True)
            return hold, n

        hold, n = self._update(change)
        log.warning("sign-in failed: %s from %s, failure %d in a row; %s", self._who(account),
                    address or "this computer", n,
                    ("address locked for %g min" % self.s.lock_minutes) if hold.by_address
                    else ("account locked for %g min" % self.s.lock_minutes) if hold.locked
                    else f"next attempt in {hold.wait_s} s" if hold.wait_s else "next attempt at once")
        return hold

    @staticmethod
    def _who(account: str) -> str:
        kind, _, rest = account.partition(":")
        # repr: a name with a line break cannot forge a line of the log
        return f"account {rest[:64]!r}" if kind == "account" else "a name that is no account"
