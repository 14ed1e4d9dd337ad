"""The simulated provincial portal (VNPT iGate style), an ASGI app: `create_app(profile) -> Starlette`.

What a citizen and an officer do on dichvucong.quangngai.gov.vn, in memory, with the 2022 release
problems as settings of a release profile (config/portal.py). It is a test target, not the product.

Pages (HTML, Vietnamese) and APIs (JSON):
  GET  /, /vi                                   home
  GET  /vi/thu-tuc?q=  /api/procedures?q=&field= procedure search (accent-insensitive)
  GET  /vi/thu-tuc/{id}  /api/procedures/{id}    procedure detail
  GET  /vi/dang-nhap, /auth/realms/digo/protocol/openid-connect/auth   login page (Keycloak realm "digo")
  POST /auth/realms/digo/login-actions/authenticate                    login (form: username, password, _csrf, next)
  GET  /vi/dang-xuat                            logout
  GET/POST /vi/padsvc/apply-online/{id}         submission step 1 (details)
  GET/POST /vi/padsvc/apply-online/{id}/upload  step 2 (multipart file upload, field "file")
  GET/POST /vi/padsvc/apply-online/{id}/confirm step 3 → 303 to the receipt
  GET  /vi/padsvc/receipt/{code}                receipt with the dossier code
  GET  /vi/tra-cuu-ho-so?ma=  /api/dossiers/{code}   dossier look-up
  GET  /vi/can-bo/ho-so  /api/officer/dossiers   an officer's dossier list (officer login)
  GET  /api/officer/dossiers/{code}             an officer opens a dossier of their agency
  POST /api/officer/dossiers/{code}/process     processing → finished (409 when not processing)
  POST /api/officer/dossiers/{code}/return      finished → returned to the citizen (409 otherwise)
  GET  /api/dvcqg/sync-status?synced=&page=&size=     status feed towards the national portal
  GET  /vi/tra-cuu-qr, /vi/thanh-toan, GET/POST /vi/danh-gia   1.0 features (404 when missing)
  GET  /__testbed/stats; POST /__testbed/profile (header X-Testbed-Token)   test control
Every response carries `Server-Timing: app;dur=<ms>` (handling time including queueing, from the
request's first bytes when served by testbed.portal.server, else from the app's first middleware,
to the response headers) and `X-Testbed-Release`.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import wraps
from typing import Awaitable, Callable
from urllib.parse import quote

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders, UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from config.clock import local_now
from config.errors import ConfigError, describe_validation
from config.portal import RELEASES, PortalProfile, load_profile
from testbed.portal import pages
from testbed.portal.data import ACCOUNTS_BY_NAME, PROCEDURES, PROCEDURES_BY_ID, Portal
from testbed.portal.runtime import Overloaded, Runtime, service_seconds

log = logging.getLogger("motcua.testbed")

RECEIVED_AT = "motcua.received_at"  # ASGI scope extension: when the request's first bytes arrived
SESSION_COOKIE = "TESTBED_SESSION"
MAX_SESSIONS = 50_000
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
LOGIN_PATH = "/auth/realms/digo/protocol/openid-connect/auth"
GENERIC_LOGIN_ERROR = "Tên đăng nhập hoặc mật khẩu không chính xác."
OVERLOAD_TEXT = "Hệ thống đang quá tải, vui lòng thử lại sau."
OFFICER_PAGE_SIZE = 20


# -- sessions -------------------------------------------------------------------------------------
@dataclass
class Draft:
    receive_result: str
    file_name: str | None = None
    file_sha256: str | None = None
    file_size: int | None = None


@dataclass
class Session:
    id: str
    csrf: str
    user: str | None = None
    drafts: dict[str, Draft] = field(default_factory=dict)
    new: bool = False


class Sessions:
    """Cookie sessions in memory (LRU-bounded so load tests cannot exhaust memory)."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, Session] = OrderedDict()

    def get(self, request: Request, create: bool = True) -> Session | None:
        sid = request.cookies.get(SESSION_COOKIE)
        s = self._items.get(sid) if sid else None
        if s is not None:
            self._items.move_to_end(sid)
            return s
        if not create:
            return None
        s = Session(id=secrets.token_urlsafe(24), csrf=secrets.token_urlsafe(24), new=True)
        self._items[s.id] = s
        while len(self._items) > MAX_SESSIONS:
            self._items.popitem(last=False)
        return s

    def drop(self, s: Session) -> None:
        self._items.pop(s.id, None)

    @staticmethod
    def attach(response: Response, s: Session | None) -> Response:
        if s is not None and s.new:
            response.set_cookie(SESSION_COOKIE, s.id, httponly=True, samesite="lax", path="/")
            s.new = False
        return response


def fold(text: str) -> str:
    """Lower case without diacritics, for search: 'Lý lịch' → 'ly lich', 'Đăng' → 'dang'."""
    t = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in t if not unicodedata.combining(c)).lower()


def _int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        raise HTTPException(400, f"Tham số {name} phải là số nguyên / parameter {name} must be an integer")
    if not lo <= v <= hi:
        raise HTTPException(400, f"Tham số {name} phải trong khoảng {lo}..{hi} / parameter {name} out of range {lo}..{hi}")
    return v


# -- the application ------------------------------------------------------------------------------
class PortalApp:
    def __init__(self, profile: PortalProfile, admin_token: str | None = None) -> None:
        self.runtime = Runtime(profile)
        self.portal = Portal.seeded()
        self.sessions = Sessions()
        self.admin_token = admin_token

    @property
    def profile(self) -> PortalProfile:
        return self.runtime.profile

    def html(self, body: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(body, status_code=status)

    # -- the worker pool around every portal endpoint ---------------------------------------------
    def endpoint(self, name: str) -> Callable:
        def deco(fn: Callable[[Request], Awaitable[Response]]):
            @wraps(fn)
            async def wrapped(request: Request) -> Response:
                rt = self.runtime
                api = request.url.path.startswith("/api/")
                try:
                    pool, n, timing = await rt.acquire(name)
                except Overloaded:
                    rt.errors[name] += 1
                    return self.error(503, OVERLOAD_TEXT, api, headers={"Retry-After": "5"})
                try:
                    await asyncio.sleep(service_seconds(timing, name, n))
                    if timing.error_every and n % timing.error_every == 0:
                        rt.errors[name] += 1
                        text = "Lỗi hệ thống, vui lòng thử lại sau." if timing.error_status == 500 else \
                            "Dịch vụ tạm thời không phản hồi, vui lòng thử lại sau."
                        return self.error(timing.error_status, text, api)
                    response = await fn(request)
                except ClientDisconnect:  # the client went away mid-upload (a load test stopping)
                    return Response(status_code=499)
                finally:
                    rt.release(pool)
                rt.served[name] += 1
                return response
            return wrapped
        return deco

    def error(self, status: int, text: str, api: bool, headers: dict | None = None) -> Response:
        if api:
            return JSONResponse({"error": text, "status": status}, status_code=status, headers=headers)
        return HTMLResponse(pages.message(self.profile, "Thông báo", text), status_code=status, headers=headers)

    # -- helpers ----------------------------------------------------------------------------------
    def user_of(self, request: Request):
        s = self.sessions.get(request, create=False)
        return ACCOUNTS_BY_NAME.get(s.user) if s and s.user else None

    async def form_with_csrf(self, request: Request, s: Session, **kw):
        form = await request.form(**kw)
        token = form.get("_csrf")
        if not isinstance(token, str) or not secrets.compare_digest(token, s.csrf):
            return form, False
        return form, True

    def csrf_refused(self, s: Session | None) -> Response:
        r = self.html(pages.message(self.profile, "Phiên làm việc không hợp lệ",
                                    "Phiên làm việc đã hết hạn hoặc không hợp lệ (mã CSRF). Vui lòng tải lại trang."), 403)
        return Sessions.attach(r, s)

    def procedure_or_404(self, pid: str):
        p = PROCEDURES_BY_ID.get(pid)
        if p is None:
            raise HTTPException(404, "Không tìm thấy thủ tục hành chính.")
        return p

    def search(self, q: str, field: str = "") -> list:
        terms = fold(q).split()
        out = []
        for p in PROCEDURES:
            hay = fold(f"{p.code} {p.name} {p.field} {p.agency_name}")
            if all(t in hay for t in terms) and (not field or fold(field) == fold(p.field)):
                out.append(p)
        return out

    def login_redirect(self, request: Request) -> RedirectResponse:
        nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{LOGIN_PATH}?next={quote(nxt, safe='')}", status_code=303)

    # -- public pages -----------------------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        u = self.user_of(request)
        return self.html(pages.home(self.profile, list(PROCEDURES), u.username if u else None))

    async def procedure_search(self, request: Request) -> Response:
        q = request.query_params.get("q", "")
        u = self.user_of(request)
        return self.html(pages.procedure_list(self.profile, q, self.search(q), u.username if u else None))

    async def api_procedures(self, request: Request) -> Response:
        q = request.query_params.get("q", "")
        found = self.search(q, request.query_params.get("field", ""))
        return JSONResponse({"total": len(found), "items": [p.to_dict() for p in found]})

    async def procedure_detail(self, request: Request) -> Response:
        p = self.procedure_or_404(request.path_params["pid"])
        u = self.user_of(request)
        return self.html(pages.procedure_detail(self.profile, p, u.username if u else None))

    async def api_procedure(self, request: Request) -> Response:
        p = PROCEDURES_BY_ID.get(request.path_params["pid"])
        if p is None:
            return JSONResponse({"error": "procedure not found"}, status_code=404)
        return JSONResponse(p.to_dict())

    # -- login ------------------------------------------------------------------------------------
    async def login_page(self, request: Request) -> Response:
        s = self.sessions.get(request)
        nxt = request.query_params.get("next", "/vi")
        return Sessions.attach(self.html(pages.login(self.profile, s.csrf, nxt)), s)

    async def login(self, request: Request) -> Response:
        s = self.sessions.get(request)
        form, ok = await self.form_with_csrf(request, s)
        if not ok:
            return self.csrf_refused(s)
        username = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        nxt = str(form.get("next", "") or "/vi")
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/vi"
        acc = ACCOUNTS_BY_NAME.get(username)
        ok = (acc is not None and secrets.compare_digest(acc.password, password)
              and acc.registered_under in self.profile.accept_accounts_from)
        if not ok:
            # Like the real 2.0 failure: a 1.0 account gets the same generic error as a wrong
            # password, HTTP 200, and no word about re-registering.
            page = pages.login(self.profile, s.csrf, nxt, GENERIC_LOGIN_ERROR, username)
            return Sessions.attach(self.html(page), s)
        s.user = acc.username
        s.csrf = secrets.token_urlsafe(24)  # rotate on login
        s.drafts.clear()
        return Sessions.attach(RedirectResponse(nxt, status_code=303), s)

    async def logout(self, request: Request) -> Response:
        s = self.sessions.get(request, create=False)
        if s is not None:
            self.sessions.drop(s)
        r = RedirectResponse("/vi", status_code=303)
        r.delete_cookie(SESSION_COOKIE, path="/")
        return r

    # -- online submission ------------------------------------------------------------------------
    def _citizen_session(self, request: Request):
        s = self.sessions.get(request, create=False)
        if s is None or s.user is None:
            return None
        return s

    async def apply_step1(self, request: Request) -> Response:
        p = self.procedure_or_404(request.path_params["pid"])
        s = self._citizen_session(request)
        if s is None:
            return self.login_redirect(request)
        if p.online_level == "none":
            return self.html(pages.message(self.profile, p.name, "Thủ tục này chưa cung cấp dịch vụ công trực tuyến.", s.user), 409)
        if request.method == "GET":
            return self.html(pages.apply_step1(self.profile, p, s.csrf, s.user))
        form, ok = await self.form_with_csrf(request, s)
        if not ok:
            return self.csrf_refused(s)
        receive = str(form.get("receive_result", ""))
        if receive not in pages.RECEIVE_OPTIONS or form.get("agree") != "1":
            err = "Vui lòng chọn hình thức nhận kết quả và xác nhận cam đoan."
            return self.html(pages.apply_step1(self.profile, p, s.csrf, s.user, err), 400)
        s.drafts[p.id] = Draft(receive_result=receive)
        return RedirectResponse(f"/vi/padsvc/apply-online/{p.id}/upload", status_code=303)

    async def apply_upload(self, request: Request) -> Response:
        p = self.procedure_or_404(request.path_params["pid"])
        s = self._citizen_session(request)
        if s is None:
            return self.login_redirect(request)
        draft = s.drafts.get(p.id)
        if draft is None:
            return RedirectResponse(f"/vi/padsvc/apply-online/{p.id}", status_code=303)
        if request.method == "GET":
            return self.html(pages.apply_step2(self.profile, p, s.csrf, s.user))
        form, ok = await self.form_with_csrf(request, s, max_files=1, max_fields=10)
        if not ok:
            return self.csrf_refused(s)
        f = form.get("file")
        if not isinstance(f, UploadFile) or not f.filename:
            return self.html(pages.apply_step2(self.profile, p, s.csrf, s.user, "Vui lòng chọn tệp đính kèm."), 400)
        h, size = hashlib.sha256(), 0
        while chunk := await f.read(64 * 1024):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                return self.html(pages.apply_step2(self.profile, p, s.csrf, s.user, "Tệp vượt quá dung lượng cho phép (5 MB)."), 413)
            h.update(chunk)
        if size == 0:
            return self.html(pages.apply_step2(self.profile, p, s.csrf, s.user, "Tệp đính kèm rỗng."), 400)
        draft.file_name, draft.file_sha256, draft.file_size = f.filename[-120:], h.hexdigest(), size
        return RedirectResponse(f"/vi/padsvc/apply-online/{p.id}/confirm", status_code=303)

    async def apply_confirm(self, request: Request) -> Response:
        p = self.procedure_or_404(request.path_params["pid"])
        s = self._citizen_session(request)
        if s is None:
            return self.login_redirect(request)
        draft = s.drafts.get(p.id)
        if draft is None or draft.file_sha256 is None:
            step = "upload" if draft else ""
            return RedirectResponse(f"/vi/padsvc/apply-online/{p.id}" + (f"/{step}" if step else ""), status_code=303)
        if request.method == "GET":
            return self.html(pages.apply_step3(self.profile, p, s.csrf, s.user, draft.receive_result,
                                               draft.file_name or "", draft.file_size or 0))
        form, ok = await self.form_with_csrf(request, s)
        if not ok:
            return self.csrf_refused(s)
        d = self.portal.submit(p, s.user, self.profile.release, local_now().replace(microsecond=0), draft.file_sha256,
                               draft.file_size or 0)
        del s.drafts[p.id]
        return RedirectResponse(f"/vi/padsvc/receipt/{quote(d.code)}", status_code=303)

    async def receipt(self, request: Request) -> Response:
        s = self._citizen_session(request)
        if s is None:
            return self.login_redirect(request)
        d = self.portal.dossiers.get(request.path_params["code"])
        acc = ACCOUNTS_BY_NAME.get(s.user)
        if d is None or (d.owner != s.user and not (acc and acc.role == "officer")):
            raise HTTPException(404, "Không tìm thấy giấy tiếp nhận hồ sơ.")
        return self.html(pages.receipt(self.profile, d, s.user))

    # -- look-up ----------------------------------------------------------------------------------
    async def lookup(self, request: Request) -> Response:
        code = request.query_params.get("ma", "").strip()
        d = self.portal.dossiers.get(code) if code else None
        u = self.user_of(request)
        status = 404 if code and d is None else 200
        return self.html(pages.lookup(self.profile, code, d, u.username if u else None), status)

    async def api_dossier(self, request: Request) -> Response:
        d = self.portal.dossiers.get(request.path_params["code"])
        if d is None:
            return JSONResponse({"error": "dossier not found"}, status_code=404)
        return JSONResponse(d.to_dict())

    # -- officer ----------------------------------------------------------------------------------
    def _officer_items(self, request: Request, acc):
        state = request.query_params.get("trang_thai") or request.query_params.get("state") or ""
        items = [d for d in self.portal.dossiers.values()
                 if d.agency_code == acc.agency_code and (not state or d.state == state)]
        items.sort(key=lambda d: (d.received_at, d.code), reverse=True)
        return items

    async def officer_list(self, request: Request) -> Response:
        acc = self.user_of(request)
        if acc is None:
            return self.login_redirect(request)
        if acc.role != "officer":
            return self.html(pages.message(self.profile, "Không có quyền truy cập",
                                           "Chức năng này chỉ dành cho cán bộ, công chức.", acc.username), 403)
        items = self._officer_items(request, acc)
        page = _int_param(request, "trang", 1, 1, 100_000)
        pages_n = (len(items) + OFFICER_PAGE_SIZE - 1) // OFFICER_PAGE_SIZE
        chunk = items[(page - 1) * OFFICER_PAGE_SIZE: page * OFFICER_PAGE_SIZE]
        return self.html(pages.officer_list(self.profile, acc.username, acc.agency_code, chunk, len(items), page, pages_n))

    async def api_officer_list(self, request: Request) -> Response:
        acc = self.user_of(request)
        if acc is None:
            return JSONResponse({"error": "login required"}, status_code=401)
        if acc.role != "officer":
            return JSONResponse({"error": "officers only"}, status_code=403)
        items = self._officer_items(request, acc)
        page = _int_param(request, "page", 1, 1, 100_000)
        size = _int_param(request, "size", OFFICER_PAGE_SIZE, 1, 500)
        chunk = items[(page - 1) * size: page * size]
        return JSONResponse({"agency_code": acc.agency_code, "total": len(items), "page": page, "size": size,
                             "items": [d.to_dict() for d in chunk]})

    def _officer_dossier(self, request: Request):
        """(account, dossier, error response): the officer's own agency's dossier, or why not."""
        acc = self.user_of(request)
        if acc is None:
            return None, None, JSONResponse({"error": "login required"}, status_code=401)
        if acc.role != "officer":
            return acc, None, JSONResponse({"error": "officers only"}, status_code=403)
        d = self.portal.dossiers.get(request.path_params["code"])
        if d is None or d.agency_code != acc.agency_code:
            return acc, None, JSONResponse({"error": "dossier not found"}, status_code=404)
        return acc, d, None

    async def api_officer_dossier(self, request: Request) -> Response:
        _, d, err = self._officer_dossier(request)
        return err or JSONResponse(d.to_dict())

    async def api_officer_action(self, request: Request) -> Response:
        """Process (→ finished) or return (→ returned) a dossier; 409 when its state does not allow it."""
        _, d, err = self._officer_dossier(request)
        if err is not None:
            return err
        action = request.path_params["action"]
        wanted = {"process": ("processing", "finished"), "return": ("finished", "returned")}.get(action)
        if wanted is None:
            return JSONResponse({"error": "action must be process or return"}, status_code=404)
        with self.portal.lock:
            if d.state != wanted[0]:
                return JSONResponse({"error": f"dossier is {d.state}, expected {wanted[0]}",
                                     "state": d.state}, status_code=409)
            d.state = wanted[1]
            if action == "process":
                d.finished_at = local_now().replace(microsecond=0)
        return JSONResponse(d.to_dict())

    # -- national portal sync feed ----------------------------------------------------------------
    async def sync_status(self, request: Request) -> Response:
        flt = request.query_params.get("synced", "")
        if flt not in ("", "true", "false"):
            raise HTTPException(400, "parameter synced must be true or false")
        page = _int_param(request, "page", 1, 1, 100_000)
        size = _int_param(request, "size", 100, 1, 1000)
        entries = [self.portal.sync_entry(d, self.profile.sync_releases)
                   for d in sorted(self.portal.dossiers.values(), key=lambda d: (d.received_at, d.code))]
        n_synced = sum(1 for x in entries if x["synced"])
        if flt:
            entries = [x for x in entries if x["synced"] == (flt == "true")]
        return JSONResponse({
            "release": self.profile.release, "generated_at": local_now().replace(microsecond=0).isoformat(sep=" "),
            "total": len(self.portal.dossiers), "synced": n_synced, "not_synced": len(self.portal.dossiers) - n_synced,
            "matched": len(entries), "page": page, "size": size,
            "items": entries[(page - 1) * size: page * size],
        })

    # -- 1.0 features (404 when the profile lists them as missing; see the middleware) ------------
    async def feature_qr(self, request: Request) -> Response:
        code = request.query_params.get("ma", "").strip()
        d = self.portal.dossiers.get(code) if code else None
        u = self.user_of(request)
        status = 404 if code and d is None else 200
        return self.html(pages.lookup(self.profile, code, d, u.username if u else None,
                                      "Tra cứu hồ sơ theo mã QR"), status)

    async def feature_payment(self, request: Request) -> Response:
        u = self.user_of(request)
        text = "Thanh toán phí, lệ phí trực tuyến qua Cổng thanh toán quốc gia (PayGov)."
        return self.html(pages.message(self.profile, "Thanh toán trực tuyến", text, u.username if u else None))

    async def feature_rating(self, request: Request) -> Response:
        s = self.sessions.get(request)
        if request.method == "POST":
            form, ok = await self.form_with_csrf(request, s)
            if not ok:
                return self.csrf_refused(s)
            if str(form.get("muc_do", "")) not in ("1", "2", "3", "4", "5"):
                r = self.html(pages.message(self.profile, "Đánh giá mức độ hài lòng", "Vui lòng chọn mức độ hài lòng (1–5).", s.user), 400)
                return Sessions.attach(r, s)
            r = self.html(pages.message(self.profile, "Đánh giá mức độ hài lòng", "Cảm ơn bạn đã đánh giá.", s.user))
            return Sessions.attach(r, s)
        body = (f'<form method="post">{pages.csrf_field(s.csrf)}<label>Mức độ hài lòng (1–5) '
                f'<input name="muc_do" type="number" min="1" max="5"></label><button type="submit">Gửi đánh giá</button></form>')
        return Sessions.attach(self.html(pages.layout(self.profile, "Đánh giá mức độ hài lòng", body, s.user)), s)

    # -- test control -----------------------------------------------------------------------------
    async def stats(self, request: Request) -> Response:
        data = self.runtime.stats()
        data["dossiers"] = len(self.portal.dossiers)
        return JSONResponse(data)

    async def set_profile(self, request: Request) -> Response:
        expected = self.admin_token or self.profile.admin_token
        token = request.headers.get("x-testbed-token", "")
        if not secrets.compare_digest(token, expected):
            return JSONResponse({"error": "wrong or missing X-Testbed-Token"}, status_code=403)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        if not isinstance(body, dict) or (("release" in body) == ("profile" in body)):
            return JSONResponse({"error": 'expected {"release": "v1.0"|"v2.0"} or {"profile": {...}}'}, status_code=400)
        try:
            if "release" in body:
                name = str(body["release"])
                name = name if name.startswith("v") else f"v{name}"
                if name not in RELEASES:  # shipped profiles only: no file paths over HTTP
                    return JSONResponse({"error": f"unknown release {body['release']!r}; "
                                                  f"expected one of {', '.join(RELEASES)}"}, status_code=422)
                new = load_profile(name)
            else:
                new = PortalProfile.model_validate(body["profile"])
        except ValidationError as e:
            return JSONResponse({"error": describe_validation("profile", e)}, status_code=422)
        except ConfigError as e:
            return JSONResponse({"error": str(e)}, status_code=422)
        self.runtime.set_profile(new)
        log.info("testbed profile switched to %s (%d workers)", new.release, new.workers)
        return JSONResponse({"release": new.release, "workers": new.workers, "max_queue": new.max_queue})


class PortalMiddleware:
    """Server-Timing and release headers on every response; 404 for features missing in the release."""

    def __init__(self, app, portal: PortalApp) -> None:
        self.app = app
        self.portal = portal

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # from the request's first bytes when the server noted them (server.TimedH11Protocol)
        t0 = scope.get("extensions", {}).get(RECEIVED_AT) or time.perf_counter()
        release = self.portal.profile.release

        async def send_timed(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.append("Server-Timing", f"app;dur={(time.perf_counter() - t0) * 1000:.1f}")
                headers.append("X-Testbed-Release", release)
            await send(message)

        missing = self.portal.runtime.missing_feature(scope["path"])
        if missing is not None:
            text = "Không tìm thấy trang yêu cầu."
            response = HTMLResponse(pages.message(self.portal.profile, "Không tìm thấy trang", text), status_code=404)
            await response(scope, receive, send_timed)
            return
        await self.app(scope, receive, send_timed)


def create_app(profile: PortalProfile | str = "v1.0", *, admin_token: str | None = None) -> Starlette:
    """The simulated portal for a release profile (a PortalProfile, 'v1.0'/'v2.0', or a YAML path).

    admin_token overrides the profile's token for POST /__testbed/profile.
    """
    pa = PortalApp(load_profile(profile), admin_token)
    ep = pa.endpoint

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        detail = getattr(exc, "detail", "") or "Không tìm thấy trang yêu cầu."
        defaults = {404: "Không tìm thấy trang yêu cầu.", 405: "Phương thức không được hỗ trợ cho trang này."}
        if status in defaults and detail in ("Not Found", "Method Not Allowed"):
            detail = defaults[status]
        return pa.error(status, detail, request.url.path.startswith("/api/"))

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("testbed: unhandled error on %s: %s", request.url.path, exc.__class__.__name__)
        return pa.error(500, "Lỗi hệ thống, vui lòng thử lại sau.", request.url.path.startswith("/api/"))

    routes = [
        Route("/", ep("home")(pa.home)),
        Route("/vi", ep("home")(pa.home)),
        Route("/vi/thu-tuc", ep("procedure_search")(pa.procedure_search)),
        Route("/api/procedures", ep("procedure_search")(pa.api_procedures)),
        Route("/vi/thu-tuc/{pid}", ep("procedure_detail")(pa.procedure_detail)),
        Route("/api/procedures/{pid}", ep("procedure_detail")(pa.api_procedure)),
        Route("/vi/dang-nhap", ep("login_page")(pa.login_page)),
        Route(LOGIN_PATH, ep("login_page")(pa.login_page)),
        Route("/auth/realms/digo/login-actions/authenticate", ep("login")(pa.login), methods=["POST"]),
        Route("/vi/dang-xuat", ep("logout")(pa.logout), methods=["GET", "POST"]),
        Route("/vi/padsvc/apply-online/{pid}", ep("apply_form")(pa.apply_step1), methods=["GET"]),
        Route("/vi/padsvc/apply-online/{pid}", ep("apply_submit")(pa.apply_step1), methods=["POST"]),
        Route("/vi/padsvc/apply-online/{pid}/upload", ep("apply_form")(pa.apply_upload), methods=["GET"]),
        Route("/vi/padsvc/apply-online/{pid}/upload", ep("apply_upload")(pa.apply_upload), methods=["POST"]),
        Route("/vi/padsvc/apply-online/{pid}/confirm", ep("apply_form")(pa.apply_confirm), methods=["GET"]),
        Route("/vi/padsvc/apply-online/{pid}/confirm", ep("apply_submit")(pa.apply_confirm), methods=["POST"]),
        Route("/vi/padsvc/receipt/{code}", ep("receipt")(pa.receipt)),
        Route("/vi/tra-cuu-ho-so", ep("dossier_lookup")(pa.lookup)),
        Route("/api/dossiers/{code}", ep("dossier_lookup")(pa.api_dossier)),
        Route("/vi/can-bo/ho-so", ep("officer_list")(pa.officer_list)),
        Route("/api/officer/dossiers", ep("officer_list")(pa.api_officer_list)),
        Route("/api/officer/dossiers/{code}", ep("officer_open")(pa.api_officer_dossier)),
        Route("/api/officer/dossiers/{code}/{action}", ep("officer_action")(pa.api_officer_action),
              methods=["POST"]),
        Route("/api/dvcqg/sync-status", ep("sync_status")(pa.sync_status)),
        Route("/vi/tra-cuu-qr", ep("feature")(pa.feature_qr)),
        Route("/vi/thanh-toan", ep("feature")(pa.feature_payment)),
        Route("/vi/danh-gia", ep("feature")(pa.feature_rating), methods=["GET", "POST"]),
        Route("/__testbed/stats", pa.stats),
        Route("/__testbed/profile", pa.set_profile, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(PortalMiddleware, portal=pa)],
        exception_handlers={HTTPException: http_error, 404: http_error, 405: http_error, Exception: server_error},
    )
    app.state.portal = pa
    return app
