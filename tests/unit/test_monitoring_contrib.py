"""The shipped monitoring files: the alert rules are a valid Prometheus rule file in structure, the Grafana
dashboard is a dashboard, and both use only metric names the station publishes — a renamed metric breaks
this test, not an operator's alerting."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry
from realstack import require

from station.metrics.registry import StationMetrics

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "contrib" / "prometheus" / "station-alerts.yml"
DASHBOARD = ROOT / "contrib" / "grafana" / "station.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",), "info": ("_info",)}
NAME = re.compile(r"\b(station_[a-z_]+)\b")
DURATION = re.compile(r"^\d+[smhd]$")


def published() -> set[str]:
    registry = CollectorRegistry()
    StationMetrics("kiosk-1", registry)
    names = set()
    for family in registry.collect():
        names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
    return names


def balanced(expr: str) -> bool:
    depth = 0
    for ch in expr:
        depth += {"(": 1, "{": 1, "[": 1, ")": -1, "}": -1, "]": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def test_the_alert_rules_have_the_structure_prometheus_loads() -> None:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    assert set(document) == {"groups"}
    (group,) = document["groups"]
    assert group["name"] == "station" and set(group) == {"name", "rules"}
    names = published()
    alerts = {}
    for rule in group["rules"]:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule.get("alert")
        assert re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"]) and DURATION.match(rule["for"])
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert balanced(rule["expr"]), rule["alert"]
        used = set(NAME.findall(rule["expr"]))
        assert used and used <= names, (rule["alert"], used - names)
        alerts[rule["alert"]] = rule["expr"]
    assert {"StationDown", "StationQueueStalled", "StationGraphThrottlingStorm",
            "StationFailureRateRising"} <= set(alerts)
    assert 'status="429"' in alerts["StationGraphThrottlingStorm"]


def test_the_dashboard_is_a_grafana_dashboard_on_the_published_names() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    names, used = published(), set()
    for panel in panels:
        assert panel["title"] and set(panel["gridPos"]) == {"x", "y", "w", "h"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert balanced(target["expr"]), panel["title"]
            used |= set(NAME.findall(target["expr"]))
    assert used <= names, used - names
    histograms = {n.removesuffix("_bucket") for n in names if n.endswith("_bucket")}
    assert {n.removesuffix("_bucket") for n in used if n.endswith("_bucket")} == histograms, "every histogram shown"
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "job", "instance"} <= variables


def test_promtool_parses_the_rules_and_every_dashboard_query(tmp_path: Path) -> None:
    """Prometheus's own promtool (Debian's prometheus package, via scripts/system-deps.sh) parses every expression."""
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool is not installed (scripts/system-deps.sh --test provides it)")
    assert promtool is not None
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = [{"record": f"dashboard:panel{p['id']}:{t['refId']}",
                "expr": t["expr"].replace("$__rate_interval", "5m").replace("$job", ".*").replace("$instance", ".*")}
               for p in dashboard["panels"] for t in p.get("targets", [])]
    as_rules = tmp_path / "dashboard-rules.yml"
    as_rules.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": queries}]}), encoding="utf-8")
    for path in (ALERTS, as_rules):
        checked = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr
