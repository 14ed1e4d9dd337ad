"""motcua-watch dashboard: `python -m streamlit run dashboard/app.py` (started by `app.py run`).

Sign-in first (local accounts, or OIDC through st.login when configured), then the pages the
account's role may see. Every page reaches the store through the owner's operations
(dashboard/backend.py), with the account's scope applied (dashboard/access.py).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Streamlit puts this script's folder first on sys.path: the root modules (system.py) must come first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "dashboard"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

# Imported here, once, before any page runs: two sessions importing pandas at the same time (plotly
# imports it lazily) can meet a half-initialised module.
import pandas  # noqa: E402,F401
import plotly.graph_objects  # noqa: E402,F401

from dashboard import common  # noqa: E402
from dashboard.access import pages_for  # noqa: E402
from dashboard.i18n import num, t  # noqa: E402
from dashboard.pages import DECLARED  # noqa: E402
from dashboard.signin_guard import Hold, SignInGuard, log_to, state_file  # noqa: E402
from dashboard.users import MAX_PASSWORD_BYTES, MIN_PASSWORD, ROLE_LABELS, UserError, UserFile  # noqa: E402

# The tab's icon is a file of our own, served by Streamlit itself: a ":material/…:" icon makes the
# browser fetch it from the internet, which an office without internet access cannot.
FAVICON = ROOT / "dashboard" / "static" / "favicon.png"
st.set_page_config(page_title="motcua-watch", page_icon=FAVICON, layout="wide", initial_sidebar_state="expanded")
st.markdown("""<style>
  [data-testid="stMetric"] {background: #f7f9fc; border: 1px solid #e3e8f0; border-radius: 8px; padding: 10px 14px;}
  [data-testid="stMetricLabel"] p {font-size: 0.9rem; color: #44546a;}
  h1 {font-size: 1.7rem !important; color: #12355b;}
  h2, h3 {color: #12355b;}
  h3 {font-size: 1.15rem !important; margin-top: 0.6rem;}
</style>""", unsafe_allow_html=True)

# Each page's file, title, icon and address, as the page declares itself (dashboard/pages/).
PAGE_BY_ID = {p.id: p for p in DECLARED}


def language_switch() -> None:
    if "lang" not in st.session_state:
        try:
            st.session_state["lang"] = common.config().dashboard.language
        except Exception:  # noqa: BLE001 - a broken config is shown below
            st.session_state["lang"] = "vi"
    choice = st.sidebar.radio(t("language", common.lang()), ["Tiếng Việt", "English"], horizontal=True,
                              index=0 if common.lang() == "vi" else 1, key="lang_choice")
    new = "vi" if choice == "Tiếng Việt" else "en"
    if new != st.session_state["lang"]:
        st.session_state["lang"] = new
        st.rerun()


def login_page(cfg) -> None:
    tr = common.tr
    left, mid, right = st.columns([1, 1.3, 1])
    with mid:
        st.title(tr("app_title"))
        st.caption(tr("subtitle", province=cfg.province))
        st.subheader(tr("login_title"))
        st.write(tr("login_intro"))
        users = UserFile(cfg.users_file)
        try:
            known = users.load()
        except UserError as e:
            st.error(str(e))
            return
        oidc = cfg.dashboard.oidc
        if oidc.enabled:
            sso_login(users, oidc)
        if not known and not oidc.enabled:
            st.warning(tr("no_users"))
        with st.form("login", border=True):
            name = st.text_input(tr("username"), key="login_user")
            password = st.text_input(tr("password"), type="password", key="login_password")
            submitted = st.form_submit_button(tr("login_button"), type="primary", width="stretch")
        if submitted:
            # held per account and per client address, in a file: a new tab or a restart starts nothing again
            guard = SignInGuard(state_file(cfg.users_file), cfg.dashboard.sign_in)
            log_to(common.log_path())
            account = guard.account_key(name, (name or "").strip() in known)
            address = client_address()
            hold = guard.begin(account, address)
            if not hold.allowed:
                st.error(hold_message(hold))
                return
            u = users.authenticate(name, password)
            if u is None:
                hold = guard.failed(account, address)
                st.error(tr("login_failed"))
                if not hold.allowed:
                    st.warning(hold_message(hold))
                return
            guard.succeeded(account, address)
            st.session_state.pop("login_password", None)
            if u.must_change_password:
                # not signed in yet: no page opens before the initial password is replaced
                st.session_state["password_change"] = u.username
            else:
                st.session_state["user"] = u
            st.rerun()


def client_address() -> str | None:
    """The browser's address as Streamlit saw the connection (None on this computer). Forwarded
    headers are not read: any client can write them."""
    try:
        ip = st.context.ip_address
    except Exception:  # noqa: BLE001 - no connection context: counted per account only
        return None
    return ip if isinstance(ip, str) and ip else None


def hold_message(hold: Hold) -> str:
    if not hold.locked:
        return common.tr("login_wait", s=num(hold.wait_s, common.lang()))
    minutes = num(math.ceil(hold.wait_s / 60), common.lang())
    return common.tr("login_address_locked" if hold.by_address else "login_locked", m=minutes)


def password_change_page(cfg) -> None:
    """The first sign-in with the generated password: a new one, twice; then the pages."""
    tr = common.tr
    name = st.session_state["password_change"]
    users = UserFile(cfg.users_file)
    left, mid, right = st.columns([1, 1.3, 1])
    with mid:
        st.title(tr("app_title"))
        st.subheader(tr("pw_change_title"))
        st.info(tr("pw_change_intro", n=MIN_PASSWORD), icon=":material/key:")
        with st.form("pw_form", border=True):
            new = st.text_input(tr("pw_new"), type="password", key="pw_new")
            again = st.text_input(tr("pw_again"), type="password", key="pw_again")
            submitted = st.form_submit_button(tr("pw_change_button"), type="primary", width="stretch",
                                              key="pw_change")
        if st.button(tr("logout"), key="pw_cancel"):
            st.session_state.pop("password_change", None)
            st.rerun()
        if not submitted:
            return
        try:
            u = users.load().get(name)
        except UserError as e:
            st.error(tr("pw_failed", msg=str(e)))
            return
        # the rules in the page's language first; users.passwd checks them again
        problem = (tr("pw_mismatch") if new != again
                   else tr("pw_too_short", n=MIN_PASSWORD) if len(new) < MIN_PASSWORD
                   else tr("pw_too_long", n=MAX_PASSWORD_BYTES) if len(new.encode("utf-8")) > MAX_PASSWORD_BYTES
                   else tr("pw_same") if u is not None and users.is_current_password(u, new) else None)
        if u is None or problem:
            st.error(problem or tr("login_failed"))
            return
        try:
            users.passwd(name, new)
            u = users.load()[name]
        except (UserError, KeyError) as e:
            st.error(tr("pw_failed", msg=str(e)))
            return
        for k in ("password_change", "pw_new", "pw_again"):
            st.session_state.pop(k, None)
        st.session_state["user"] = u
        st.session_state["password_changed"] = True
        st.rerun()


def sso_login(users: UserFile, oidc) -> None:
    tr = common.tr
    info = getattr(st, "user", None)
    if info is not None and getattr(info, "is_logged_in", False):
        u = users.by_email(info.get("email"))
        if u is None:
            st.error(tr("sso_unknown", email=info.get("email") or "?"))
            st.button(tr("logout"), on_click=st.logout)
            return
        st.session_state["user"] = u
        st.rerun()
    st.button(tr("login_sso", provider=oidc.provider_label), on_click=st.login, width="stretch")
    st.divider()


def sidebar(u, cfg) -> None:
    tr = common.tr
    with st.sidebar:
        st.markdown(f"### {tr('app_title')}")
        st.caption(cfg.province)
        st.markdown(tr("signed_in_as", name=u.display_name or u.username,
                       role=ROLE_LABELS[common.lang()].get(u.role, u.role)))
        if u.agency:
            st.caption(tr("agency_of_account", agency=u.agency))
        try:
            mode = common.backend(str(cfg.store.path)).mode
            st.caption(":material/cloud_done: " + tr("store_mode_remote") if mode == "remote"
                       else ":material/folder_open: " + tr("store_mode_local"))
        except Exception:  # noqa: BLE001 - the pages say what is wrong
            pass
        if st.button(tr("logout"), key="logout"):
            for k in ("user", "login_user"):
                st.session_state.pop(k, None)
            if getattr(getattr(st, "user", None), "is_logged_in", False):
                st.logout()
            st.rerun()


def main() -> None:
    language_switch()
    try:
        cfg = common.config()
    except Exception as e:  # noqa: BLE001 - a broken config is a message, not a traceback
        st.title(t("app_title", common.lang()))
        common.report_exception(e)
        st.stop()
        return
    u = common.user()
    if u is None:
        # Every page's address leads to the sign-in form (or, for an account that still has its
        # initial password, to the form that replaces it), and after it to that page.
        if st.session_state.get("password_change"):
            form, title = (lambda: password_change_page(cfg)), common.tr("pw_change_title")
        else:
            form, title = (lambda: login_page(cfg)), common.tr("login_title")
        login = [st.Page(form, title=title, url_path="dang-nhap", default=True)]
        login += [st.Page(form, title=common.tr(p.title_key), url_path=p.url) for p in DECLARED]
        st.navigation(login, position="hidden").run()
        return
    if st.session_state.pop("password_changed", False):
        st.toast(common.tr("pw_changed"), icon=":material/check_circle:")
    sidebar(u, cfg)
    pages = [st.Page(p.file, title=common.tr(p.title_key), icon=p.icon, url_path=p.url)
             for p in map(PAGE_BY_ID.get, pages_for(u))]
    st.navigation(pages).run()


main()
