"""The register's history is append-only: every interface (library ops, the owner's API, the
command line, the named queries) is tried for a rewrite, and each fails; a rewrite behind the
program's back (the DuckDB file edited directly) is detected by the hash chain."""
from __future__ import annotations

import json

import duckdb
import httpx
import pytest

from compliance.actions import ACTIONS, ComplianceRefused
from store.catalog import QUERIES
from store.ops import TOKEN_HEADER, OperationError
from system import Motcua, open_ops


def seed(ops) -> str:
    rid = ops.compliance("add_request", actor="lan", via="cli", agency="Sở Tư pháp", requested_on="2022-07-05",
                         description="Khôi phục tra cứu hồ sơ theo mã QR", request_id="YC-01")["request_id"]
    ops.compliance("answer_request", actor="vnpt", via="cli", request_id=rid, answer="Đang khắc phục")
    return rid


def snapshot(ops) -> list[tuple]:
    return ops.query("compliance_history", limit=100_000).rows


def test_library_ops_offer_no_rewrite(app):
    seed(app)
    before = snapshot(app)
    for action in ("delete_event", "update_event", "rewrite_history", "purge", "edit"):
        with pytest.raises(ComplianceRefused, match="unknown compliance action .* append-only"):
            app.compliance(action, actor="x", event_id=1)
    with pytest.raises(ComplianceRefused, match=r"unexpected parameter at \(an event's time and id are set by the store"):
        app.compliance("answer_request", actor="x", request_id="YC-01", answer="back-dated", at="2022-01-01")
    with pytest.raises(ComplianceRefused, match="unexpected parameter event_id"):
        app.compliance("update_request", actor="x", request_id="YC-01", status="open", event_id=1)
    with pytest.raises(ComplianceRefused, match="actor .* required"):
        app.compliance("answer_request", request_id="YC-01", answer="anonymous")
    assert snapshot(app) == before
    # an update is a new event: the old one stays as it was
    app.compliance("update_request", actor="lan", via="cli", request_id="YC-01", description="Khôi phục tra cứu QR")
    after = snapshot(app)
    assert after[: len(before)] == before and len(after) == len(before) + 1
    assert app.query("compliance_requests").one()["description"] == "Khôi phục tra cứu QR"
    assert set(ACTIONS) == {"add_request", "update_request", "answer_request", "attach_check", "attach_file",
                            "resolve_request", "judge_criterion", "import_requests"}


def test_named_queries_cannot_write(app):
    seed(app)
    before = snapshot(app)
    evil = "x'; DELETE FROM compliance_events; UPDATE compliance_events SET actor = 'mallory'; --"
    for name in sorted(n for n in QUERIES if n.startswith("compliance_")):
        fn = QUERIES[name].fn
        params = {}
        for p in list(fn.__code__.co_varnames[1:fn.__code__.co_argcount]):
            params[p] = {"limit": 10, "since": "2022-01-01", "until": "2030-01-01", "bucket": "hour",
                         "checks": [evil]}.get(p, evil)
        try:
            app.query(name, **params)
        except Exception:
            pass  # a refused parameter is fine; a write is not
    assert snapshot(app) == before
    assert app.query("compliance_history_verify").one()["intact"] is True
    # nobody can swap a query for a writing one: the catalog is read-only, a second declaration refused
    with pytest.raises(TypeError):
        QUERIES["compliance_history"] = QUERIES["compliance_history_verify"]
    import types

    import store.compliance_queries
    from store.catalog import collect
    from store.registry import named_query

    evil = types.SimpleNamespace(swap=named_query("compliance_history")(lambda con: None))
    with pytest.raises(ValueError, match="declared twice"):
        collect([store.compliance_queries, evil])


def test_the_owner_api_offers_no_rewrite(owner, app_cfg):
    app, service = owner
    ops = open_ops(app_cfg)
    assert ops.remote
    seed(ops)  # writes through the owner work
    before = snapshot(ops)
    with pytest.raises(OperationError, match="unknown compliance action 'delete_event'"):
        ops.compliance("delete_event", actor="x", event_id=1)
    with pytest.raises(OperationError, match="unexpected parameter recorded_at"):
        ops.compliance("answer_request", actor="x", request_id="YC-01", answer="a", recorded_at="2020-01-01")
    host, port = service.address
    base, auth = f"http://{host}:{port}", {TOKEN_HEADER: service.token}
    for method in ("PUT", "DELETE", "PATCH"):
        r = httpx.request(method, f"{base}/compliance", headers=auth, json={"action": "add_request"})
        assert r.status_code in (404, 405, 501)
    for path in ("/compliance/history", "/compliance/events/1", "/sql", "/query/../compliance"):
        r = httpx.post(f"{base}{path}", headers=auth, json={"sql": "DELETE FROM compliance_events"})
        assert r.status_code in (404, 422)
    r = httpx.post(f"{base}/compliance", json={"action": "answer_request",
                                               "params": {"actor": "x", "request_id": "YC-01", "answer": "no token"}})
    assert r.status_code == 403
    r = httpx.post(f"{base}/query/compliance_history", headers=auth,
                   json={"params": {"item_id": "x' OR 1=1; DELETE FROM compliance_events; --"}})
    assert r.status_code == 200 and r.json()["result"]["rows"] == []
    assert snapshot(ops) == before
    assert snapshot(app) == before
    ops.close()


def test_the_command_line_offers_no_rewrite(run_app, app_cfg):
    r = run_app("compliance", "add", "--agency", "Sở Tư pháp", "--date", "05/07/2022", "--description",
                "Khôi phục tra cứu hồ sơ theo mã QR", "--id", "YC-01", "--by", "lan")
    assert r.returncode == 0, r.stderr
    h = run_app("compliance", "history", "YC-01", "--json")
    before = json.loads(h.stdout)
    assert [e["action"] for e in before] == ["created"] and before[0]["actor"] == "lan"
    for args in (["compliance", "delete", "1"], ["compliance", "history", "YC-01", "--delete"],
                 ["compliance", "history-edit"], ["compliance", "update", "YC-01", "--at", "2020-01-01"],
                 ["compliance", "update", "YC-01", "--event-id", "1", "--status", "open"]):
        r = run_app(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
    r = run_app("query", "compliance_history", "--param", "item_id=x'; DELETE FROM compliance_events; --")
    assert r.returncode == 0 and "Traceback" not in r.stderr
    r = run_app("compliance", "resolve", "YC-01", "--by", "vnpt")
    assert r.returncode == 2 and "cannot be marked resolved without evidence" in r.stderr and "Traceback" not in r.stderr
    after = json.loads(run_app("compliance", "history", "YC-01", "--json").stdout)
    assert after == before


def test_a_rewrite_behind_the_programs_back_is_detected(app_cfg):
    app = Motcua(app_cfg)
    seed(app)
    app.compliance("update_request", actor="lan", via="cli", request_id="YC-01", status="in_progress")
    assert app.query("compliance_history_verify").one() == {"events": 3, "intact": True, "first_bad_event_id": None,
                                                           "problem": None}
    app.close()
    con = duckdb.connect(str(app_cfg.store.path))
    con.execute("UPDATE compliance_events SET actor = 'someone else' WHERE event_id = 2")
    con.close()
    app = Motcua(app_cfg)
    v = app.query("compliance_history_verify").one()
    assert v["intact"] is False and v["first_bad_event_id"] == 2 and "content was changed" in v["problem"]
    from compliance import Period, register

    assert register(app, Period.parse())["history"]["intact"] is False
    app.close()
    con = duckdb.connect(str(app_cfg.store.path))
    con.execute("DELETE FROM compliance_events WHERE event_id = 2")
    con.close()
    app = Motcua(app_cfg)
    v = app.query("compliance_history_verify").one()
    assert v["intact"] is False and v["first_bad_event_id"] == 3 and "changed or removed" in v["problem"]
    app.close()
