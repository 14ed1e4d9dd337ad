"""The Hệ thống page's status-page section under Streamlit's AppTest on a real store (probe results
from the testbed): an admin opens an incident from the service's template, posts an update,
corrects the text and resolves it, each change one more row of the history in the account's name;
other roles read the incidents and get no form."""
from __future__ import annotations

import os

import pytest

from config.app import load_config
from dashboard.backend import Backend
from system import Motcua
from testbed.portal.server import running
from tests.dashboard.apptest import add_users, env_for, login, open_page, table


@pytest.fixture
def sp_env(tmp_path, monkeypatch):
    from probes.runner import run_once

    env = env_for(tmp_path, tmp_path / "data" / "sp.duckdb")
    cfg = load_config(environ=env)
    app = Motcua(cfg)
    with running("v2.0", port=0) as base:
        run_once(cfg.monitor.probes, store=app.store, base_url=base)
    app.close()
    add_users(tmp_path / "users.json")
    for k in [k for k in os.environ if k.startswith("MOTCUA_")]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return cfg


def _history(cfg) -> list[dict]:
    return Backend(cfg).query("status_incident_updates").to_dicts()


def test_an_admin_runs_an_incident_from_the_page(sp_env):
    cfg = sp_env
    at = open_page(login("admin"), "system")
    assert any("Không có sự cố nào" in i.value for i in at.info)
    at.selectbox(key="sp_open_service").set_value("dang-nhap-tai-khoan-cu").run()
    assert at.text_area(key="sp_open_message_vi_dang-nhap-tai-khoan-cu").value.startswith(
        "Tài khoản đăng ký trên hệ thống cũ tạm thời chưa đăng nhập được;")
    at.selectbox(key="sp_open_impact").set_value("outage")
    at.button(key="sp_open_submit").click().run()
    assert not at.exception, at.exception
    assert any("Đã đăng sự cố số 1" in s.value for s in at.success)
    inc = Backend(cfg).query("status_incidents").one()
    assert (inc["service"], inc["impact"], inc["status"], inc["opened_by"]) == (
        "dang-nhap-tai-khoan-cu", "outage", "investigating", "u-admin")
    shown = table(at, "Tiêu đề")
    assert list(shown["Trạng thái"]) == ["Đang xử lý"] and list(shown["Mức ảnh hưởng"]) == ["Gián đoạn"]
    # an update
    at.selectbox(key="sp_post_status").set_value("identified")
    at.text_area(key="sp_post_message_vi").input("Đã xác định nguyên nhân; dự kiến khắc phục trước 17:00.")
    at.button(key="sp_post_submit").click().run()
    assert any("Đã đăng cập nhật cho sự cố số 1" in s.value for s in at.success)
    # a correction of the text shown
    at.text_area(key="sp_edit_message_vi_1").input("Đã xác định nguyên nhân; dự kiến khắc phục trước 16:00.")
    at.button(key="sp_edit_submit").click().run()
    assert Backend(cfg).query("status_incidents").one()["message_vi"].endswith("trước 16:00.")
    # resolved with the prepared message
    at.button(key="sp_resolve_submit").click().run()
    assert any("đã được đánh dấu đã khắc phục" in s.value for s in at.success)
    history = _history(cfg)
    assert [(h["action"], h["actor"], h["via"]) for h in history] == [
        ("open", "u-admin", "dashboard"), ("post", "u-admin", "dashboard"), ("edit", "u-admin", "dashboard"),
        ("resolve", "u-admin", "dashboard")]
    assert history[1]["message_vi"].endswith("trước 17:00.")   # the text as posted is kept
    assert history[3]["message_vi"].startswith("Sự cố đã được khắc phục")
    hist = table(at, "Thao tác")
    assert list(hist["Thao tác"]) == ["mở sự cố", "đăng cập nhật", "sửa nội dung", "đánh dấu đã khắc phục"]
    # a resolved incident offers no more posts
    with pytest.raises(KeyError):
        at.button(key="sp_post_submit")


@pytest.mark.parametrize("role", ["leadership", "ict", "vendor"])
def test_other_roles_read_without_forms(sp_env, role):
    app = Motcua(sp_env)
    try:
        app.status_incident("open", actor="quantri", service="thanh-toan-truc-tuyen")
    finally:
        app.close()
    at = open_page(login(role), "system")
    assert list(table(at, "Tiêu đề")["Tiêu đề"]) == ["Thanh toán trực tuyến đang gặp sự cố"]
    assert any("Chỉ tài khoản quản trị" in c.value for c in at.caption)
    for key in ("sp_open_submit", "sp_post_submit", "sp_resolve_submit"):
        with pytest.raises(KeyError):
            at.button(key=key)


def test_english_switch(sp_env):
    at = open_page(login("admin", lang="en"), "system")
    assert any(s.value == "Public status page: incidents" for s in at.subheader)
