"""The dashboard's accounts: who may log in, with which role, and (agency role) for which agency.

One JSON file (config: dashboard.users_file, default users.json beside the store), mode 0600,
written atomically. Passwords are kept only as bcrypt hashes; they are never printed or logged.
An account without a password hash can only sign in through OIDC (its `email` must match the
identity provider's). Managed with `python app.py user add|remove|passwd|list`.

The account a first start creates (`ensure_first_admin`) has a generated password written to a
file; until that password is changed, the dashboard lets it only choose a new one, and the change
removes the file.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bcrypt

from config.errors import MotcuaError

ROLES = ("leadership", "ict", "vendor", "agency", "admin")
ROLE_LABELS = {
    "vi": {"leadership": "Lãnh đạo", "ict": "Sở KH&CN / CNTT", "vendor": "Nhà cung cấp", "agency": "Cơ quan",
           "admin": "Quản trị"},
    "en": {"leadership": "Leadership", "ict": "ICT department", "vendor": "Vendor", "agency": "Agency",
           "admin": "Administrator"},
}
MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")
# bcrypt checks only the first 72 bytes: refuse longer passwords rather than cut them silently.
MAX_PASSWORD_BYTES = 72


class UserError(MotcuaError):
    """A problem with an account or the accounts file, in plain words (never contains a password)."""


@dataclass
class User:
    username: str
    role: str
    agency: str | None = None          # agency code, for the agency role
    display_name: str = ""
    email: str | None = None           # for OIDC sign-in
    password_hash: str | None = None
    # the file holding the generated first password: set until the password is changed
    initial_password_file: str | None = None

    @property
    def must_change_password(self) -> bool:
        return bool(self.initial_password_file)

    def public(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("password_hash")
        d.pop("initial_password_file")
        d["password"] = ("initial, to be changed at the first sign-in" if self.must_change_password
                         else "set" if self.password_hash else "none (OIDC only)")
        return d


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise UserError(f"the password must be at most {MAX_PASSWORD_BYTES} bytes long")


def hash_password(password: str, rounds: int = 12) -> str:
    check_password_rules(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


class UserFile:
    """The accounts file. Reads every time (small), writes atomically with mode 0600."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, User]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            users = {}
            for name, u in (data.get("users") or {}).items():
                users[name] = User(username=name, role=u["role"], agency=u.get("agency"),
                                   display_name=u.get("display_name", ""), email=u.get("email"),
                                   password_hash=u.get("password_hash"),
                                   initial_password_file=u.get("initial_password_file"))
            return users
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise UserError(f"{self.path}: the accounts file cannot be read ({type(e).__name__}); "
                            "fix or remove it and add the accounts again with `app.py user add`") from None

    def save(self, users: dict[str, User]) -> None:
        body = {"users": {n: {k: v for k, v in asdict(u).items() if k != "username" and v not in (None, "")}
                          for n, u in sorted(users.items())}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(body, f, ensure_ascii=False, indent=2)
        os.replace(tmp, self.path)

    # -- management -------------------------------------------------------------------------
    def add(self, username: str, role: str, password: str | None, agency: str | None = None,
            display_name: str = "", email: str | None = None, rounds: int = 12) -> User:
        if not _NAME.match(username):
            raise UserError(f"user name {username!r}: use 2-64 letters, digits, '.', '_', '-' or '@'")
        if role not in ROLES:
            raise UserError(f"role {role!r}: must be one of {', '.join(ROLES)}")
        if role == "agency" and not agency:
            raise UserError("an agency account needs --agency CODE (the agency whose dossiers it sees)")
        if role != "agency" and agency:
            raise UserError(f"--agency is only for the agency role, not {role}")
        if not password and not email:
            raise UserError("give a password, or an e-mail for single sign-on (OIDC)")
        users = self.load()
        if username in users:
            raise UserError(f"user {username!r} already exists (use `app.py user passwd` to change the password)")
        u = User(username, role, agency, display_name, email, hash_password(password, rounds) if password else None)
        users[username] = u
        self.save(users)
        return u

    def remove(self, username: str) -> None:
        users = self.load()
        if username not in users:
            raise UserError(f"no user {username!r}")
        del users[username]
        self.save(users)

    def passwd(self, username: str, password: str, rounds: int = 12) -> Path | None:
        """Set a new password. For the first account, the generated password's file is removed
        once the new hash is saved; returns that file then, else None."""
        users = self.load()
        if username not in users:
            raise UserError(f"no user {username!r}")
        u = users[username]
        check_password_rules(password)
        if u.must_change_password and self.is_current_password(u, password):
            raise UserError("choose a password other than the initial one")
        u.password_hash = hash_password(password, rounds)
        initial, u.initial_password_file = u.initial_password_file, None
        self.save(users)
        if not initial:
            return None
        Path(initial).unlink(missing_ok=True)
        return Path(initial)

    @staticmethod
    def is_current_password(u: User, password: str) -> bool:
        pw = password.encode("utf-8")
        return (bool(u.password_hash) and len(pw) <= MAX_PASSWORD_BYTES
                and bcrypt.checkpw(pw, u.password_hash.encode("ascii")))

    def ensure_first_admin(self, password_file: Path | str) -> Path | None:
        """On a first start (no accounts file at all), create the account `admin` with a random
        password written to `password_file` (mode 0600, as Jenkins does), so the dashboard of a
        fresh `make run` can be opened. Returns the password file when it created the account;
        an existing accounts file, even an empty one, is left alone. The account must choose a
        new password at its first sign-in (`must_change_password`)."""
        import secrets

        if self.path.exists():
            return None
        password = secrets.token_urlsafe(12)
        pf = Path(password_file)
        pf.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(pf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(password + "\n")
        # kept absolute: the dashboard or `app.py user passwd`, from any folder, removes this file
        self.save({"admin": User("admin", "admin", display_name="Quản trị (tài khoản đầu tiên)",
                                 password_hash=hash_password(password), initial_password_file=str(pf.resolve()))})
        return pf

    # -- sign-in ----------------------------------------------------------------------------
    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password matches its hash, else None (same answer for unknown users)."""
        u = self.load().get((username or "").strip())
        pw = (password or "").encode("utf-8")
        if u is None or not u.password_hash or len(pw) > MAX_PASSWORD_BYTES:
            bcrypt.checkpw(b"x", _dummy_hash())  # the same work either way: no user-name probing by timing
            return None
        return u if bcrypt.checkpw(pw, u.password_hash.encode("ascii")) else None

    def by_email(self, email: str | None) -> User | None:
        if not email:
            return None
        e = email.strip().lower()
        return next((u for u in self.load().values() if u.email and u.email.lower() == e), None)


_DUMMY: list[bytes] = []


def _dummy_hash() -> bytes:
    if not _DUMMY:
        _DUMMY.append(bcrypt.hashpw(b"dummy-password", bcrypt.gensalt(12)))
    return _DUMMY[0]
