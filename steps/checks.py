"""What a step of config/probes.py means, whoever sends it: the probes (probes/runner.py, httpx on
asyncio) and the load tests (loadtests/locustfile.py, Locust under gevent, in a process of its own).

`substitute` fills `${name}` and `${secret:NAME}` in, `extract_value` takes a value out of a
response, `evaluate` holds a response to the step's assertions. Both sides use these, so a step
sends the same request and fails with the same plain message in a probe and in a load test.

Only the standard library and the probes' config types here: the load tests import this module
into a process that gevent patches, which must not pull in the probe runner, httpx or the store.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from config.probes import VAR_RE, Assertions, JsonAssert
from steps.secrets import Secrets

_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


class _Missing:
    pass


MISSING = _Missing()


def json_path(data: Any, path: str) -> Any:
    """`data.items[0].code` → the value, or MISSING. Keys are dotted, list indexes in brackets."""
    cur = data
    pos = 0
    path = path.strip()
    while pos < len(path):
        if path[pos] == ".":
            pos += 1
            continue
        m = _PATH_TOKEN.match(path, pos)
        if not m:
            return MISSING
        pos = m.end()
        if m.group(1) is not None:
            key = m.group(1)
            if isinstance(cur, dict) and key in cur:
                cur = cur[key]
            elif isinstance(cur, list) and key.lstrip("-").isdigit():
                i = int(key)
                if -len(cur) <= i < len(cur):
                    cur = cur[i]
                else:
                    return MISSING
            else:
                return MISSING
        else:
            i = int(m.group(2))
            if isinstance(cur, list) and -len(cur) <= i < len(cur):
                cur = cur[i]
            else:
                return MISSING
    return cur


def extract_value(ex, text: str, cookie: Callable[[str], str | None]) -> str | None:
    """What a journey step's `extract` takes from a response (regex group, JSON path, or a cookie
    through `cookie(name)`), as text; None when it is not there. The probes and the load tests'
    Locust side share it, so a step extracts the same value in both."""
    if ex.regex is not None:
        m = re.search(ex.regex, text)
        return m.group(ex.group) if m else None
    if ex.json_ is not None:
        try:
            v = json_path(json.loads(text), ex.json_)
        except ValueError:
            return None
        if v is MISSING or v is None:
            return None
        return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return cookie(ex.cookie)


def short(v: Any, n: int = 60) -> str:
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return s if len(s) <= n else s[: n - 1] + "…"


def _plain(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def upload_bytes(f) -> bytes:
    """The bytes of an upload (config UploadFile): its text, or `size` bytes of it padded with filler."""
    if f.size is None:
        return f.content.encode("utf-8")
    return (f.content.encode("utf-8") + b"0" * f.size)[: f.size]


class Unresolved(Exception):
    """A ${name} with no value yet (not a variable of the file, not extracted by an earlier step)."""


def substitute(text: str, variables: dict[str, str], secrets: Secrets) -> str:
    """`text` with every ${name} and ${secret:NAME} filled in; Unresolved or SecretMissing otherwise."""
    def rep(m: re.Match) -> str:
        ref = m.group(1)
        if ref.startswith("secret:"):
            return secrets.get(ref[7:])
        if ref in variables:
            return variables[ref]
        raise Unresolved(f"variable ${{{ref}}} has no value")
    return VAR_RE.sub(rep, text)


def refused_redirect(host: str) -> str:
    """Why a step stops at a redirect to a host off its allowlist (nothing is sent there)."""
    return f"chuyển hướng tới máy không được phép: {host}"


# -- assertions ---------------------------------------------------------------------------------
def _count_where(items: Any, where: dict[str, Any]) -> int | None:
    if not isinstance(items, list):
        return None

    def match(it: Any) -> bool:
        if not isinstance(it, dict):
            return False
        for k, want in where.items():
            have = it.get(k, MISSING)
            if isinstance(want, list):
                if have not in want:
                    return False
            elif have != want:
                return False
        return True
    return sum(1 for it in items if match(it))


def _check_json(data: Any, a: JsonAssert, sub) -> str | None:
    v = json_path(data, a.path)
    label = a.path
    if a.where is not None:
        n = _count_where(v, a.where)
        if n is None:
            return f"{a.path}: expected a list, found {'nothing' if v is MISSING else type(v).__name__}"
        cond = ", ".join(f"{k} in [{', '.join(_plain(x) for x in w)}]" if isinstance(w, list) else f"{k}={_plain(w)}"
                         for k, w in a.where.items())
        label, v = f"{a.path} where {cond}", n
    if a.exists is not None:
        if a.exists and v is MISSING:
            return f"{label}: not found in the JSON response"
        if not a.exists and v is not MISSING:
            return f"{label}: present, expected absent"
    if v is MISSING:
        if a.model_fields_set & {"equals", "not_equals", "min", "max"}:
            return f"{label}: not found in the JSON response"
        return None
    if "equals" in a.model_fields_set:
        want = sub(a.equals) if isinstance(a.equals, str) else a.equals
        if v != want:
            return f"{label}: expected {short(want)}, got {short(v)}"
    if "not_equals" in a.model_fields_set:
        bad = sub(a.not_equals) if isinstance(a.not_equals, str) else a.not_equals
        if v == bad:
            return f"{label}: must not be {short(bad)}"
    if a.min is not None or a.max is not None:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return f"{label}: expected a number, got {short(v)}"
        if a.min is not None and v < a.min:
            return f"{label}: {v:g}, expected at least {a.min:g}"
        if a.max is not None and v > a.max:
            return f"{label}: {v:g}, expected at most {a.max:g}"
    return None


def evaluate(expect: Assertions, status: int, text: str, elapsed_ms: float, cert_days: float | None,
             sub) -> list[str]:
    """Plain-word failures of a response against its assertions (empty list: all good)."""
    fails: list[str] = []
    if status not in expect.status:
        want = " or ".join(str(s) for s in expect.status)
        fails.append(f"expected status {want}, got {status}")
        return fails  # the body of an error page says nothing useful about the rest
    if expect.max_ms is not None and elapsed_ms > expect.max_ms:
        fails.append(f"too slow: {elapsed_ms:.0f} ms, limit {expect.max_ms:g} ms")
    for t in expect.body_not_contains:
        t = sub(t)
        if t in text:
            fails.append(f"text '{short(t)}' found")
    for t in expect.body_contains:
        t = sub(t)
        if t not in text:
            fails.append(f"text '{short(t)}' not found")
    if expect.body_regex is not None and not re.search(expect.body_regex, text):
        fails.append(f"pattern '{short(expect.body_regex)}' not found")
    if expect.json_:
        try:
            data = json.loads(text)
        except ValueError:
            fails.append("response is not JSON")
        else:
            for a in expect.json_:
                f = _check_json(data, a, sub)
                if f:
                    fails.append(f)
    if expect.cert_days_min is not None and cert_days is not None and cert_days < expect.cert_days_min:
        fails.append(f"TLS certificate expires in {cert_days:.1f} days (minimum {expect.cert_days_min:g})")
    return fails
