"""Release profiles of the simulated portal (config/portal.py, config/portal/*.yaml), no server."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from config.errors import ConfigError
from config.portal import ENDPOINTS, PortalProfile, load_profile, profile_path
from testbed.portal.app import fold
from testbed.portal.data import PROCEDURES, UPGRADE_AT, seed_dossiers
from testbed.portal.runtime import jitter_fraction, service_seconds


def test_shipped_profiles_load_and_v2_is_worse_than_v1():
    v1, v2 = load_profile("v1.0"), load_profile("v2.0")
    assert (v1.release, v2.release) == ("v1.0", "v2.0")
    assert v2.workers < v1.workers
    for name in ENDPOINTS:
        assert v2.timing(name).service_ms > v1.timing(name).service_ms, name
    # The 2022 symptoms are settings of v2.0 only.
    assert "v1.0" in v1.accept_accounts_from and "v1.0" not in v2.accept_accounts_from
    assert v1.missing_features == [] and {f.path for f in v2.missing_features} >= {
        "/vi/tra-cuu-qr", "/vi/thanh-toan", "/vi/danh-gia"}
    assert "v1.0" in v1.sync_releases and "v1.0" not in v2.sync_releases
    assert any(v2.timing(n).error_every for n in ENDPOINTS)
    assert not any(v1.timing(n).error_every for n in ENDPOINTS)


def test_load_profile_accepts_release_names_paths_and_models():
    assert load_profile("2.0").release == "v2.0"
    assert load_profile(profile_path("v1.0")).release == "v1.0"
    p = load_profile("v1.0")
    assert load_profile(p) is p
    with pytest.raises(ConfigError, match="unknown portal release 'v3.0'"):
        load_profile("v3.0")


def _write(tmp_path, text: str):
    f = tmp_path / "bad.yaml"
    f.write_text(text, encoding="utf-8")
    return f


def test_unknown_endpoint_names_file_and_field(tmp_path):
    f = _write(tmp_path, "release: v2.0\nworkers: 2\nendpoints:\n  homepage: {service_ms: 5}\n")
    with pytest.raises(ConfigError) as e:
        load_profile(f)
    msg = str(e.value)
    assert str(f) in msg and "endpoints" in msg and "homepage" in msg


def test_extra_keys_and_bad_values_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="workerz"):
        load_profile(_write(tmp_path, "release: v1.0\nworkers: 2\nworkerz: 3\n"))
    with pytest.raises(ConfigError, match="workers"):
        load_profile(_write(tmp_path, "release: v1.0\nworkers: 0\n"))
    with pytest.raises(ConfigError, match="release"):
        load_profile(_write(tmp_path, "release: v9\nworkers: 1\n"))
    with pytest.raises(ConfigError, match="error_every"):
        load_profile(_write(tmp_path, "release: v1.0\nworkers: 1\nendpoints:\n  home: {service_ms: 1, error_every: 0}\n"))
    with pytest.raises(ConfigError, match="missing_features.0.path"):
        load_profile(_write(tmp_path, "release: v1.0\nworkers: 1\nmissing_features: [{path: relative, name: x}]\n"))
    with pytest.raises(ConfigError, match="accept_accounts_from"):
        load_profile(_write(tmp_path, "release: v2.0\nworkers: 1\naccept_accounts_from: [v1.0]\n"))
    with pytest.raises(ConfigError, match="file not found"):
        load_profile(tmp_path / "absent.yaml")


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(ENDPOINTS), st.integers(min_value=1, max_value=10**6),
       st.floats(min_value=0, max_value=1000), st.floats(min_value=0, max_value=1000))
def test_service_time_is_deterministic_and_bounded(endpoint, n, service, jitter):
    from config.portal import EndpointTiming

    t = EndpointTiming(service_ms=service, jitter_ms=jitter)
    s = service_seconds(t, endpoint, n)
    assert s == service_seconds(t, endpoint, n)
    assert service / 1000 <= s <= (service + jitter) / 1000 + 1e-12
    assert 0 <= jitter_fraction(endpoint, n) < 1


def test_scaled_profile_keeps_everything_but_service_times():
    v2 = load_profile("v2.0")
    fast = v2.scaled(0.25)
    assert fast.timing("login").service_ms == v2.timing("login").service_ms * 0.25
    assert fast.timing("login").jitter_ms == v2.timing("login").jitter_ms * 0.25
    assert fast.timing("sync_status").error_every == v2.timing("sync_status").error_every
    same = {k: v for k, v in fast.model_dump().items() if k not in ("endpoints", "default_timing")}
    assert same == {k: v for k, v in v2.model_dump().items() if k not in ("endpoints", "default_timing")}
    with pytest.raises(ValueError):
        v2.scaled(-1)


def test_fold_makes_search_accent_insensitive():
    assert fold("Cấp Phiếu lý lịch tư pháp") == "cap phieu ly lich tu phap"
    assert fold("Đăng ký khai sinh") == "dang ky khai sinh"


def test_seeded_data_is_deterministic_and_spans_the_upgrade():
    a, b = seed_dossiers(), seed_dossiers()
    assert [d.code for d in a] == [d.code for d in b]
    assert len({d.code for d in a}) == len(a)
    releases = {d.received_release for d in a}
    assert releases == {"v1.0", "v2.0"}
    assert all((d.received_at < UPGRADE_AT) == (d.received_release == "v1.0") for d in a)
    names = {p.name for p in PROCEDURES}
    assert any(n.startswith("Cấp Phiếu lý lịch tư pháp") for n in names)
    assert any(n.startswith("Chứng thực bản sao từ bản chính") for n in names)
    assert isinstance(load_profile("v1.0"), PortalProfile)
