"""HTML of the simulated portal (Vietnamese, as citizens see it). Plain f-strings, all values escaped."""
from __future__ import annotations

from html import escape

from config.portal import PortalProfile
from config.vocabulary import TIME_UNIT_LABELS
from testbed.portal.data import STATE_LABELS, Dossier, Procedure

ONLINE_LEVELS = {"full": "Toàn trình", "partial": "Một phần", "none": "Không trực tuyến"}
RECEIVE_OPTIONS = {
    "truc_tiep": "Nhận trực tiếp tại Bộ phận Một cửa",
    "buu_chinh": "Nhận qua dịch vụ bưu chính công ích",
    "truc_tuyen": "Nhận kết quả điện tử trên Cổng",
}


def num(n: int) -> str:
    """Vietnamese thousands separator: 200000 → '200.000'."""
    return f"{n:,}".replace(",", ".")


def e(v: object) -> str:
    return escape("" if v is None else str(v), quote=True)


def layout(profile: PortalProfile, title: str, body: str, user: str | None = None) -> str:
    who = (f'<span class="user">Xin chào, {e(user)}</span> <a href="/vi/dang-xuat">Đăng xuất</a>'
           if user else '<a href="/vi/dang-nhap">Đăng nhập</a>')
    return f"""<!DOCTYPE html>
<html lang="vi">
<head><meta charset="utf-8"><title>{e(title)} - {e(profile.title)}</title></head>
<body data-release="{e(profile.release)}">
<header><a href="/vi">{e(profile.title)}</a> <small>phiên bản {e(profile.release)}</small>
<nav><a href="/vi/thu-tuc">Thủ tục hành chính</a> | <a href="/vi/tra-cuu-ho-so">Tra cứu hồ sơ</a> | {who}</nav>
</header>
<main>
<h1>{e(title)}</h1>
{body}
</main>
<footer>Hệ thống thông tin giải quyết thủ tục hành chính tỉnh Quảng Ngãi (mô phỏng, dùng để kiểm thử)</footer>
</body>
</html>
"""


def csrf_field(token: str) -> str:
    return f'<input type="hidden" name="_csrf" value="{e(token)}">'


def home(profile: PortalProfile, procedures: list[Procedure], user: str | None) -> str:
    features = [
        ("/vi/tra-cuu-qr", "Tra cứu hồ sơ theo mã QR"),
        ("/vi/thanh-toan", "Thanh toán trực tuyến"),
        ("/vi/danh-gia", "Đánh giá mức độ hài lòng"),
    ]
    missing = {f.path for f in profile.missing_features}
    links = "".join(f'<li><a href="{p}">{e(n)}</a></li>' for p, n in features if p not in missing)
    procs = "".join(f'<li><a href="/vi/thu-tuc/{p.id}">{e(p.name)}</a></li>' for p in procedures[:5])
    body = f"""<form action="/vi/thu-tuc" method="get"><input name="q" placeholder="Tìm kiếm thủ tục hành chính">
<button type="submit">Tìm kiếm</button></form>
<h2>Thủ tục được quan tâm</h2><ul class="procedures">{procs}</ul>
<h2>Tiện ích</h2><ul class="features"><li><a href="/vi/tra-cuu-ho-so">Tra cứu hồ sơ</a></li>{links}</ul>"""
    return layout(profile, "Cổng Dịch vụ công tỉnh Quảng Ngãi", body, user)


def procedure_list(profile: PortalProfile, q: str, found: list[Procedure], user: str | None) -> str:
    rows = "".join(
        f'<tr><td>{e(p.code)}</td><td><a href="/vi/thu-tuc/{p.id}">{e(p.name)}</a></td>'
        f"<td>{e(p.field)}</td><td>{e(p.agency_name)}</td></tr>" for p in found)
    body = f"""<form action="/vi/thu-tuc" method="get"><input name="q" value="{e(q)}">
<button type="submit">Tìm kiếm</button></form>
<p class="count">Tìm thấy {len(found)} thủ tục</p>
<table><tr><th>Mã thủ tục</th><th>Tên thủ tục</th><th>Lĩnh vực</th><th>Cơ quan thực hiện</th></tr>{rows}</table>"""
    return layout(profile, "Danh sách thủ tục hành chính", body, user)


def procedure_detail(profile: PortalProfile, p: Procedure, user: str | None) -> str:
    limit = f"{p.time_limit:g} {TIME_UNIT_LABELS[p.time_unit].vi}" if p.time_unit != "same_day" else "Trong ngày"
    apply = (f'<p><a class="apply" href="/vi/padsvc/apply-online/{p.id}">Nộp hồ sơ trực tuyến</a></p>'
             if p.online_level != "none" else "<p>Thủ tục này chưa cung cấp dịch vụ công trực tuyến.</p>")
    body = f"""<dl><dt>Mã thủ tục</dt><dd>{e(p.code)}</dd><dt>Lĩnh vực</dt><dd>{e(p.field)}</dd>
<dt>Cơ quan thực hiện</dt><dd>{e(p.agency_name)}</dd><dt>Thời hạn giải quyết</dt><dd>{e(limit)}</dd>
<dt>Mức độ dịch vụ công trực tuyến</dt><dd>{e(ONLINE_LEVELS[p.online_level])}</dd>
<dt>Phí, lệ phí</dt><dd>{num(p.fee_vnd)} đồng</dd></dl>{apply}"""
    return layout(profile, p.name, body, user)


def login(profile: PortalProfile, csrf: str, next_url: str, error: str | None = None,
          username: str = "") -> str:
    err = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    body = f"""{err}<form id="kc-form-login" action="/auth/realms/digo/login-actions/authenticate" method="post">
{csrf_field(csrf)}<input type="hidden" name="next" value="{e(next_url)}">
<label>Tên đăng nhập <input name="username" value="{e(username)}" autocomplete="username"></label>
<label>Mật khẩu <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit" name="login">Đăng nhập</button></form>"""
    return layout(profile, "Đăng nhập", body)


def apply_step1(profile: PortalProfile, p: Procedure, csrf: str, user: str, error: str | None = None) -> str:
    err = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    opts = "".join(f'<option value="{k}">{e(v)}</option>' for k, v in RECEIVE_OPTIONS.items())
    body = f"""<p>Bước 1/3: Thông tin hồ sơ — {e(p.name)}</p>{err}
<form id="apply-step-1" action="/vi/padsvc/apply-online/{p.id}" method="post">{csrf_field(csrf)}
<label>Hình thức nhận kết quả <select name="receive_result">{opts}</select></label>
<label><input type="checkbox" name="agree" value="1"> Tôi xin cam đoan những thông tin khai trên là đúng sự thật</label>
<button type="submit">Tiếp tục</button></form>"""
    return layout(profile, "Nộp hồ sơ trực tuyến", body, user)


def apply_step2(profile: PortalProfile, p: Procedure, csrf: str, user: str, error: str | None = None) -> str:
    err = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    body = f"""<p>Bước 2/3: Thành phần hồ sơ — {e(p.name)}</p>{err}
<form id="apply-step-2" action="/vi/padsvc/apply-online/{p.id}/upload" method="post" enctype="multipart/form-data">
{csrf_field(csrf)}<label>Tệp đính kèm (PDF, JPG, PNG, tối đa 5 MB) <input type="file" name="file"></label>
<button type="submit">Tải lên</button></form>"""
    return layout(profile, "Nộp hồ sơ trực tuyến", body, user)


def apply_step3(profile: PortalProfile, p: Procedure, csrf: str, user: str, receive: str,
                file_name: str, file_size: int) -> str:
    body = f"""<p>Bước 3/3: Xác nhận — {e(p.name)}</p>
<dl><dt>Hình thức nhận kết quả</dt><dd>{e(RECEIVE_OPTIONS.get(receive, receive))}</dd>
<dt>Tệp đính kèm</dt><dd>{e(file_name)} ({num(file_size)} byte)</dd></dl>
<form id="apply-step-3" action="/vi/padsvc/apply-online/{p.id}/confirm" method="post">{csrf_field(csrf)}
<button type="submit">Nộp hồ sơ</button></form>"""
    return layout(profile, "Nộp hồ sơ trực tuyến", body, user)


def receipt(profile: PortalProfile, d: Dossier, user: str | None) -> str:
    p = d.procedure
    body = f"""<p class="success">Nộp hồ sơ thành công.</p>
<h2>Giấy tiếp nhận hồ sơ và hẹn trả kết quả</h2>
<dl><dt>Mã hồ sơ</dt><dd class="dossier-code" id="dossier-code">{e(d.code)}</dd>
<dt>Thủ tục</dt><dd>{e(p.name)}</dd><dt>Cơ quan giải quyết</dt><dd>{e(p.agency_name)}</dd>
<dt>Ngày tiếp nhận</dt><dd>{d.received_at:%d/%m/%Y %H:%M}</dd>
<dt>Ngày hẹn trả kết quả</dt><dd>{d.due_at:%d/%m/%Y}</dd></dl>
<p><a href="/vi/tra-cuu-ho-so?ma={e(d.code)}">Tra cứu tình trạng hồ sơ</a></p>"""
    return layout(profile, "Giấy tiếp nhận hồ sơ", body, user)


def lookup(profile: PortalProfile, code: str, d: Dossier | None, user: str | None, title: str = "Tra cứu hồ sơ") -> str:
    form = f"""<form method="get"><label>Mã hồ sơ <input name="ma" value="{e(code)}"></label>
<button type="submit">Tra cứu</button></form>"""
    if not code:
        result = ""
    elif d is None:
        result = f'<p class="error" role="alert">Không tìm thấy hồ sơ có mã {e(code)}.</p>'
    else:
        result = f"""<dl class="dossier"><dt>Mã hồ sơ</dt><dd class="dossier-code">{e(d.code)}</dd>
<dt>Thủ tục</dt><dd>{e(d.procedure.name)}</dd><dt>Cơ quan giải quyết</dt><dd>{e(d.procedure.agency_name)}</dd>
<dt>Ngày tiếp nhận</dt><dd>{d.received_at:%d/%m/%Y %H:%M}</dd>
<dt>Tình trạng</dt><dd class="state" data-state="{e(d.state)}">{e(STATE_LABELS[d.state][0])}</dd></dl>"""
    return layout(profile, title, form + result, user)


def officer_list(profile: PortalProfile, user: str, agency: str, items: list[Dossier], total: int,
                 page: int, pages: int) -> str:
    rows = "".join(
        f'<tr data-code="{e(d.code)}"><td>{e(d.code)}</td><td>{e(d.procedure.name)}</td>'
        f"<td>{d.received_at:%d/%m/%Y %H:%M}</td><td>{e(STATE_LABELS[d.state][0])}</td></tr>" for d in items)
    body = f"""<p>Cơ quan: {e(agency)} — {total} hồ sơ, trang {page}/{max(pages, 1)}</p>
<table class="dossiers"><tr><th>Mã hồ sơ</th><th>Thủ tục</th><th>Ngày tiếp nhận</th><th>Tình trạng</th></tr>{rows}</table>"""
    return layout(profile, "Danh sách hồ sơ cần xử lý", body, user)


def message(profile: PortalProfile, title: str, text: str, user: str | None = None) -> str:
    return layout(profile, title, f'<p class="message" role="alert">{e(text)}</p>', user)
