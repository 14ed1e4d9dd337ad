"""config/index766.yaml: the shipped rules validate, and a broken file is refused with a message
naming the file and the field (also by `app.py check-config`)."""
from __future__ import annotations

import pytest
import yaml

from config.app import AppConfig
from config.errors import ConfigError
from config.index766 import DEFAULT_INDEX766, GROUPS, load_index766


def test_the_shipped_rules():
    r = load_index766()
    assert AppConfig().reports.index766 == DEFAULT_INDEX766
    assert [r.group(g).max_points for g in GROUPS] == [18, 20, 22, 22, 18]   # the decision's 100 points
    assert sum(c.points or 0 for c in r.online_service.components) == 22
    assert [c.points for c in r.online_service.components if c.input == "online_payment"] == [10]
    assert (r.label.vi, r.label.en) == ("ước tính", "estimate")
    assert r.decision.confirmed and not r.revision.confirmed and "5518/VPCP-KSTT" in r.revision.text
    # the weights nobody has confirmed say so
    assert not any(r.group(g).source.confirmed for g in GROUPS)
    assert r.satisfaction.score(5) == 18 and r.satisfaction.score(1) == 0 and r.satisfaction.score(3) == 9


def _broken(tmp_path, change) -> str:
    data = yaml.safe_load(DEFAULT_INDEX766.read_text(encoding="utf-8"))
    change(data)
    p = tmp_path / "index766.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_index766(p)
    assert str(p) in str(e.value)
    return str(e.value)


def test_components_must_add_up_to_the_group(tmp_path):
    msg = _broken(tmp_path, lambda d: d["online_service"]["components"][2].update(points=5))
    assert "online_service: Value error, the components' points add up to 21, not to max_points 22" in msg


def test_progress_is_the_stores_twenty(tmp_path):
    msg = _broken(tmp_path, lambda d: d["progress"].update(max_points=25))
    assert "progress: Value error, max_points must be 20" in msg


def test_a_component_reads_one_of_the_inputs(tmp_path):
    msg = _broken(tmp_path, lambda d: d["digitisation"]["components"][0].update(input="scanned"))
    assert "components read scanned, not among the group's inputs" in msg


def test_a_missing_group_a_typo_and_the_100_points(tmp_path):
    assert "satisfaction: Field required" in _broken(tmp_path, lambda d: d.pop("satisfaction"))
    assert "publicity.max_pionts: Extra inputs are not permitted" in _broken(
        tmp_path, lambda d: d["publicity"].update(max_pionts=1))
    assert "add up to 110, more than the decision's 100" in _broken(
        tmp_path, lambda d: d["publicity"].update(max_points=28))
    assert "zero_at must be below the top of the rating scale (5)" in _broken(
        tmp_path, lambda d: d["satisfaction"].update(zero_at=5))


def test_not_yaml(tmp_path):
    p = tmp_path / "index766.yaml"
    p.write_text("publicity: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"index766.yaml: not valid YAML \(line"):
        load_index766(p)
