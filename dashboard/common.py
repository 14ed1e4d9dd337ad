"""What every page shares: the config, the store's operations (cached), the signed-in user, the
language, and turning any failure into a plain message on the page (never a traceback)."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import streamlit as st

from config.redact import log_exception
from dashboard.access import AccessDenied, ScopedOps, can_see
from dashboard.backend import Backend, StoreUnavailable
from dashboard.i18n import t
from dashboard.users import User

log = logging.getLogger("motcua.dashboard")


class PageStop(Exception):
    """A page cannot go on; its message is already on the page."""


# -- config and store ----------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _config(config_path: str | None, env_key: str):
    from config.app import load_config

    return load_config(config_path)


def config():
    """The AppConfig (ConfigError propagates: the entry script shows it)."""
    import os

    env_key = json.dumps(sorted((k, v) for k, v in os.environ.items() if k.startswith("MOTCUA_")))
    return _config(os.environ.get("MOTCUA_CONFIG"), env_key)


@st.cache_resource(show_spinner=False)
def backend(store_path: str) -> Backend:  # keyed on the store path: one backend per store
    return Backend(config())


def lang() -> str:
    return st.session_state.get("lang") or "vi"


def tr(key: str, **kw: Any) -> str:
    return t(key, lang(), **kw)


def translator():
    """tr(key, **kw) bound to this run's language (safe in widgets' format_func)."""
    lng = lang()
    return lambda key, **kw: t(key, lng, **kw)


def user() -> User | None:
    return st.session_state.get("user")


def ops() -> ScopedOps:
    u = user()
    if u is None:
        raise AccessDenied("not signed in")
    b = backend(str(config().store.path))
    return ScopedOps(b, u, lambda code: _subtree(str(config().store.path), code))


@st.cache_data(ttl=300, show_spinner=False)
def _subtree(store_path: str, code: str) -> set[str]:
    tbl = backend(store_path).query("agency_scope", agency=code)
    return set(tbl.column("code"))


@st.cache_data(ttl=30, show_spinner=False, max_entries=2000)
def _cached_query(store_path: str, name: str, params_json: str, version: str):
    return backend(store_path).query(name, **json.loads(params_json))


def query(name: str, **params: Any):
    """A named query for the signed-in user: scope applied first, then cached on (query, scoped
    parameters, the data's version) for a short while, so two users never share an answer they
    should not, and a page reloaded after an import or a refresh shows the new figures (probe
    figures, which move without a new version, are asked again after 30 s)."""
    scoped = ops().scoped_params(name, params)
    return _cached_query(str(config().store.path), name, json.dumps(scoped, sort_keys=True, default=str),
                         data_version())


def data_version() -> str:
    """The store's data version: its last refresh and its last import."""
    s = status()
    return f"{s.get('last_run_id')}:{s.get('last_batch_id')}"


@st.cache_data(ttl=30, show_spinner=False, max_entries=200)
def _cached_explain(store_path: str, codes: tuple[str, ...], agency: str | None, lng: str,
                    version: str) -> dict[str, Any]:
    return backend(store_path).explain_dossiers(list(codes), agency=agency, lang=lng)


def explain(codes: list[str], agency: str | None) -> dict[str, Any]:
    o = ops()
    agency = o.explain_scope(agency)  # the role may explain, and only in its scope
    return _cached_explain(str(config().store.path), tuple(codes), agency, lang(), data_version())


@st.cache_data(ttl=1, show_spinner=False)  # the data's version: asked about once a page view
def _cached_status(store_path: str) -> dict[str, Any]:
    return backend(store_path).query("dashboard_status").one() or {}


def status() -> dict[str, Any]:
    return _cached_status(str(config().store.path))


def _register_ops(store_path: str, role: str) -> ScopedOps:
    return ScopedOps(backend(store_path), User("register", role), lambda code: {code})


@st.cache_data(ttl=30, show_spinner=False, max_entries=100)
def _cached_register(store_path: str, role: str, start: str, end: str, lng: str, version: str) -> dict[str, Any]:
    from compliance import Period, register

    period = Period(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    return register(_register_ops(store_path, role), period, lang=lng)


@st.cache_data(ttl=30, show_spinner=False, max_entries=20)
def _cached_register_xlsx(store_path: str, role: str, start: str, end: str, lng: str, version: str) -> bytes:
    import tempfile

    from compliance import Period, write_xlsx

    period = Period(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    with tempfile.TemporaryDirectory() as d:
        path = write_xlsx(_register_ops(store_path, role), period, Path(d) / "register.xlsx", lang=lng)
        return Path(path).read_bytes()


def compliance_register(start: dt.date, end: dt.date) -> dict[str, Any]:
    """The compliance register for a period (compliance.register), through the user's scoped ops."""
    u = require_user()
    return _cached_register(str(config().store.path), u.role, start.isoformat(), end.isoformat(), lang(),
                            data_version())


def compliance_xlsx(start: dt.date, end: dt.date) -> bytes:
    u = require_user()
    return _cached_register_xlsx(str(config().store.path), u.role, start.isoformat(), end.isoformat(), lang(),
                                 data_version())


def require_user() -> User:
    u = user()
    if u is None:
        raise AccessDenied("not signed in")
    return u


def clear_caches() -> None:
    _cached_query.clear()
    _cached_status.clear()
    _cached_explain.clear()
    _cached_register.clear()
    _cached_register_xlsx.clear()


# -- failures as messages ---------------------------------------------------------------------------

def log_path() -> Path:
    try:
        return config().store.path.parent / "logs" / "motcua.log"
    except Exception:  # noqa: BLE001
        return Path("data/logs/motcua.log")


def _message(e: BaseException) -> str | None:
    """A plain message for failures a user can understand, None for unexpected ones."""
    import httpx

    from config.errors import ConfigError
    from imports.errors import ImportRefused
    from store.errors import StoreError
    from store.ops import OperationError

    if isinstance(e, AccessDenied):
        return tr("access_denied")
    if isinstance(e, ConfigError):
        return f"{tr('config_error')}\n\n```\n{e}\n```\n{tr('config_fix')}"
    if isinstance(e, StoreUnavailable):
        return tr("store_unavailable", msg=str(e)) + " " + tr("store_unavailable_hint")
    if isinstance(e, (StoreError, OperationError, ImportRefused)):
        return tr("operation_failed", msg=str(e))
    if isinstance(e, httpx.HTTPError):
        return tr("store_unavailable", msg=type(e).__name__) + " " + tr("store_unavailable_hint")
    return None


def report_exception(e: BaseException) -> None:
    msg = _message(e)
    if msg is None:
        path = log_path()
        log_exception(path, "dashboard")  # ID and phone shapes masked (config/redact.py)
        msg = tr("unexpected", kind=type(e).__name__, log=path)
    st.error(msg, icon=":material/warning:")


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Run a page section; any failure becomes one message on the page."""
    try:
        yield
    except PageStop:
        pass
    except Exception as e:  # noqa: BLE001 - every failure is shown as a message, never a traceback
        if type(e).__name__ in ("StopException", "RerunException"):  # Streamlit's control flow
            raise
        report_exception(e)


def require_page(page: str) -> User:
    """The signed-in user, if the page is theirs; otherwise a message and the page stops."""
    u = user()
    if u is None or not can_see(u, page):
        st.error(tr("access_denied"), icon=":material/lock:")
        st.stop()
    return u


def require_data() -> dict[str, Any]:
    """The store's status; an empty store says so plainly and the page stops."""
    s = status()
    if not (s.get("dossiers") or 0):
        st.info(f"**{tr('empty_store')}**\n\n{tr('empty_store_hint')}", icon=":material/info:")
        raise PageStop()
    return s


def page_header(title_key: str, s: dict[str, Any] | None = None) -> None:
    from dashboard.i18n import when

    st.title(tr(title_key))
    if s and s.get("last_recompute_as_of"):
        st.caption(tr("data_as_of", t=when(s["last_recompute_as_of"], lang())))


def frame(table, columns: dict[str, str] | None = None):
    """A Table as a pandas DataFrame, columns renamed to the page's labels (in that order)."""
    import pandas as pd

    df = pd.DataFrame(table.rows, columns=table.columns)
    if columns:
        df = df[[c for c in columns if c in df.columns]].rename(columns={k: tr(v) for k, v in columns.items()})
    return df


def _auto(lng: str):
    """A cell with no declared kind: dates, times and numbers written the page's way, nothing as '–'."""
    from dashboard.i18n import day, num, when

    def f(v: Any) -> str:
        if v is None or (isinstance(v, float) and v != v):
            return "–"
        if isinstance(v, bool):
            return str(v)
        if isinstance(v, dt.datetime):
            return when(v, lng)
        if isinstance(v, dt.date):
            return day(v, lng)
        if isinstance(v, int):
            return num(v, lng)
        if isinstance(v, float):
            return num(v, lng, 0 if v.is_integer() else 2)
        if hasattr(v, "to_pydatetime"):  # a pandas Timestamp
            return when(v.to_pydatetime(), lng)
        return "–" if v == "" else str(v)
    return f


def styled(df, formats: dict[str, str] | None = None):
    """A DataFrame as the page shows it: every cell written in the page's language and number format
    (dashboard/i18n.py FORMATS: "89,66 %", "3.251", "2.912 ms", "06/12/2026"; empty: "–"). A pandas
    Styler: the cells keep their values, so a column of numbers still sorts as numbers."""
    import pandas as pd

    from dashboard.i18n import formatter

    lng = lang()
    fmt = {c: formatter(k, lng) for c, k in (formats or {}).items() if c in df.columns}
    auto = _auto(lng)
    df = df.copy()
    for c in df.columns:
        if pd.api.types.is_bool_dtype(df[c]):
            continue
        f = fmt.setdefault(c, auto)
        # Streamlit draws an empty cell as "None" whatever the Styler says: such a column is
        # written out as text ("–" where empty), and sorts as text.
        if df[c].isna().any():
            df[c] = ["–" if v is None or (isinstance(v, float) and v != v) or v is pd.NaT else f(v) for v in df[c]]
            fmt[c] = str
    return df.style.format(fmt, na_rep="–")


def dataframe(df, formats: dict[str, str] | None = None, **kw: Any) -> None:
    """st.dataframe of `styled(df, formats)`."""
    st.dataframe(styled(df, formats), **kw)


def uploader_words(key: str, types: list[str] | None = None) -> None:
    """Streamlit's file uploader says "Upload" and "200MB per file" in English whatever the page's
    language, and has no setting for it: on a Vietnamese page its words are replaced (hidden from
    view and from the page's text, the Vietnamese shown in their place)."""
    if lang() != "vi":
        return
    mb = st.get_option("server.maxUploadSize")
    limit = f"Tối đa {mb} MB mỗi tệp" + (" · " + ", ".join(t.upper() for t in types) if types else "")
    box = f".st-key-{key} [data-testid='stFileUploaderDropzone']"
    st.markdown(f"""<style>
  {box} button [data-testid='stMarkdownContainer'] p,
  {box} [data-testid='stFileUploaderDropzoneInstructions'] span {{visibility: hidden; font-size: 0;}}
  {box} button [data-testid='stMarkdownContainer'] p::after {{content: "Chọn tệp"; visibility: visible; font-size: 0.875rem;}}
  {box} [data-testid='stFileUploaderDropzoneInstructions'] span::after {{content: "{limit}"; visibility: visible; font-size: 0.875rem;}}
</style>""", unsafe_allow_html=True)


def wrap(name: str, width: int = 34) -> str:
    """A long name on as many lines as it needs for a chart's label column (never cut off)."""
    import textwrap

    name = "" if name is None else str(name)
    return "<br>".join(textwrap.wrap(name, width)) or name


def chart(fig, key: str | None = None, legend_y: float = -0.2) -> None:
    fig.update_layout(margin=dict(l=10, r=10, t=40, b=10), font=dict(family="Inter, Segoe UI, sans-serif", size=13),
                      plot_bgcolor="white", legend=dict(orientation="h", y=legend_y), separators=",." if lang() == "vi" else ".,")
    st.plotly_chart(fig, key=key, config={"displaylogo": False})


def months() -> list[dt.date]:
    return [r["month"] for r in query("dashboard_months")]


def default_month(ms: list[dt.date], s: dict[str, Any]) -> int:
    """Index of the default month: the current one, or the last complete one in a month's first week."""
    from dashboard.warm import default_month_index

    return default_month_index(ms, s.get("last_recompute_as_of"))
