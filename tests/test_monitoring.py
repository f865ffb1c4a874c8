"""The monitoring stack in `monitoring/` checked against a real Prometheus (Debian's `prometheus` package: `prometheus`
and `promtool`): the configuration and the alerting rules pass `promtool check`, every alert's unit tests pass
`promtool test rules` (each alert tested firing and quiet), the Grafana files and the compose services fit together,
and end to end: the API (gunicorn, two workers) scraped by a Prometheus on 127.0.0.1 with the project's rules loaded,
bounded traffic sent, every expression of the Grafana dashboard answering with data, and the drift signals (share
predicted Transported, missing and unseen inputs, the spend histogram) moving, and the drift alerts going pending,
when the traffic is skewed to sleepers from an unknown planet with no age."""
import json
import math
import shutil
import signal
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from conftest import ROOT, free_port, need

MONITORING = ROOT / "monitoring"
RULES = sorted((MONITORING / "rules").glob("*.yml"))
RULE_TESTS = sorted((MONITORING / "tests").glob("*.yml"))
DASHBOARD = MONITORING / "grafana" / "dashboards" / "spaceship-clf.json"
PROMTOOL, PROMETHEUS = shutil.which("promtool"), shutil.which("prometheus")
JOB = "spaceship-api"


def promtool(*args: str) -> subprocess.CompletedProcess:
    need(PROMTOOL is not None, "promtool not installed (Debian package `prometheus`)")
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, cwd=MONITORING)


def alerts() -> dict[str, dict]:
    return {r["alert"]: r for f in RULES for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"] if "alert" in r}


def dashboard_queries() -> list[tuple[str, str]]:
    "(panel title, expression) of every query of the dashboard."
    return [(p["title"], t["expr"]) for p in json.loads(DASHBOARD.read_text())["panels"] for t in p.get("targets", [])]


# --- the files --------------------------------------------------------------------------------------------------------

def test_prometheus_config_and_rules_pass_promtool_check():
    config = promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0 and f"SUCCESS: {len(RULES)} rule files found" in config.stdout, config.stdout + config.stderr
    rules = promtool("check", "rules", *map(str, RULES))
    assert rules.returncode == 0 and f"SUCCESS: {len(alerts())} rules found" in rules.stdout, rules.stdout + rules.stderr


def test_alert_unit_tests_pass():
    result = promtool("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


def test_every_alert_is_described_and_tested_firing_and_quiet():
    found = alerts()
    assert set(found) >= {"SpaceshipApiDown", "SpaceshipApiNotReady", "SpaceshipHighErrorRate", "SpaceshipLatencyP99High",
                          "SpaceshipModelLoadFailed", "SpaceshipPredictionDrift", "SpaceshipInputMissingDrift",
                          "SpaceshipInputUnseenCategories"}
    for name, rule in found.items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["runbook"], name
    cases = [case for f in RULE_TESTS for t in yaml.safe_load(f.read_text())["tests"] for case in t.get("alert_rule_test", [])]
    firing = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    assert firing == set(found) and quiet == set(found), (set(found) - firing, set(found) - quiet)


def test_grafana_provisioning_and_compose_fit_together():
    datasource = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"][0]
    provider = yaml.safe_load((MONITORING / "grafana/provisioning/dashboards/spaceship.yml").read_text())["providers"][0]
    board = json.loads(DASHBOARD.read_text())
    uids = {t["datasource"]["uid"] for p in board["panels"] for t in p.get("targets", [])}
    assert uids == {datasource["uid"]} and datasource["url"] == "http://prometheus:9090"
    assert {v["name"] for v in board["templating"]["list"]} == {"job"}
    titles = " | ".join(p["title"] for p in board["panels"]).lower()
    for topic in ("traffic", "error", "latency", "model version over time", "vs training", "missing", "never seen"):
        assert topic in titles, topic

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    assert {"api", "prometheus", "grafana"} <= set(compose)
    for name in ("prometheus", "grafana"):
        image = compose[name]["image"]
        assert ":" in image and not image.endswith((":latest", ":main")), image  # pinned
    mounts = {v.split(":")[1]: ROOT / v.split(":")[0] for s in ("prometheus", "grafana") for v in compose[s]["volumes"]
              if v.startswith("./")}
    assert (mounts["/etc/prometheus"] / "prometheus.yml").is_file()
    assert mounts["/etc/grafana/provisioning"] == MONITORING / "grafana/provisioning"
    assert mounts[provider["options"]["path"]] == DASHBOARD.parent
    scraped = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    api_job = next(j for j in scraped["scrape_configs"] if j["job_name"] == JOB)
    assert api_job["dns_sd_configs"][0]["names"] == ["api"] and api_job["dns_sd_configs"][0]["port"] == 5000  # every replica


# --- end to end: the API scraped by a real Prometheus -----------------------------------------------------------------

class Prometheus:
    "A Prometheus on 127.0.0.1 scraping one API every second, with the project's rules loaded."
    def __init__(self, folder: Path, target: str):
        self.port = free_port(); self.url = f"http://127.0.0.1:{self.port}"
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "rule_files": [str(r) for r in RULES],
                  "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [target]}]}]}
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = folder / "prometheus.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [PROMETHEUS, f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{self.port}"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def query(self, expr: str) -> list[dict]:
        reply = requests.get(self.url + "/api/v1/query", params={"query": expr}, timeout=10).json()
        assert reply["status"] == "success", (expr, reply)
        return reply["data"]["result"]

    def value(self, expr: str) -> float:
        result = self.query(expr)
        assert len(result) == 1, (expr, result)
        return float(result[0]["value"][1])

    def wait_until(self, expr: str, check, timeout: float = 30) -> list[dict]:
        "Poll `expr` until `check(result)` holds (or fail with Prometheus's log)."
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None: raise AssertionError(f"prometheus exited:\n{self.log.read_text()[-3000:]}")
            try:
                if check(result := self.query(expr)): return result
            except requests.ConnectionError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"{expr} did not turn as expected within {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try: self.process.wait(timeout=20)
            except subprocess.TimeoutExpired: os.killpg(self.process.pid, signal.SIGKILL); self.process.wait(timeout=10)


@pytest.fixture
def prometheus_for(tmp_path):
    started = []
    def start(target: str) -> Prometheus:
        started.append(p := Prometheus(tmp_path, target))
        return p
    yield start
    for p in started: p.stop()


def records(frame) -> list[dict]:
    "Passengers as JSON records (missing values as null)."
    def plain(v):
        v = v.item() if hasattr(v, "item") else v  # numpy scalars to Python
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v
    return [{k: plain(v) for k, v in row.items()} for row in frame.astype(object).to_dict("records")]


def send(url: str, groups: list[list[dict]], deadline: float) -> int:
    "POST each group as one request (bounded in count and time); the passengers answered."
    answered = 0
    with requests.Session() as s:
        for group in groups:
            assert time.monotonic() < deadline, "traffic took too long"
            r = s.post(url + "/predict", json=group, timeout=10)
            assert r.status_code == 200, r.text
            answered += len(r.json()["predictions"])
    return answered


def by_travel_group(passengers: list[dict]) -> list[list[dict]]:
    groups: dict[str, list] = {}
    for p in passengers: groups.setdefault(p["PassengerId"].split("_")[0], []).append(p)
    return list(groups.values())


def test_dashboard_and_drift_against_a_real_prometheus(start_server, prometheus_for):
    need(PROMETHEUS is not None, "prometheus not installed (Debian package `prometheus`)")
    from spaceship_clf.data import make_passengers
    api = start_server(args=["--workers", "2"]).wait("/health/ready").wait_for_workers(2)
    prom = prometheus_for(f"127.0.0.1:{api.port}")
    prom.wait_until(f'up{{job="{JOB}"}}', lambda r: r and r[0]["value"][1] == "1")
    deadline = time.monotonic() + 120

    # ordinary traffic: synthetic passengers like the training ones, one request per travel group (1 to 5 passengers),
    # plus a few client mistakes
    ordinary = records(make_passengers(300, seed=23, labelled=False))
    groups = by_travel_group(ordinary)
    total = f'sum(spaceship_predictions_total{{job="{JOB}"}})'
    sent = send(api.url, groups[:1], deadline)  # the request series exist before the rest: rates see the rest as increase
    prom.wait_until(total, lambda r: r and float(r[0]["value"][1]) == sent)
    sent += send(api.url, groups[1:], deadline)
    assert sent == 300
    with requests.Session() as s:
        for _ in range(3):
            assert s.post(api.url + "/predict", data=b"{not json", headers={"Content-Type": "application/json"}, timeout=10).status_code == 400
    prom.wait_until(total, lambda r: r and float(r[0]["value"][1]) == sent)
    prom.wait_until(f'sum(spaceship_http_requests_total{{job="{JOB}", status="400"}})', lambda r: r and float(r[0]["value"][1]) == 3)

    # every dashboard expression answers, with at least one number, once Grafana's variables are substituted
    for title, expr in dashboard_queries():
        query = expr.replace("$__rate_interval", "1m").replace('job=~"$job"', f'job=~"{JOB}"')
        assert "$" not in query, (title, query)
        result = prom.query(query)
        values = [float(s["value"][1]) for s in result]
        assert values and any(not math.isnan(v) for v in values), (title, query, result)

    rules = alerts()
    drift_alerts = ("SpaceshipPredictionDrift", "SpaceshipInputMissingDrift", "SpaceshipInputUnseenCategories")
    for name in drift_alerts:  # ordinary traffic: quiet (the alert's expression, without its `for`)
        assert prom.query(rules[name]["expr"]) == [], name
    share = f'sum(spaceship_predictions_total{{job="{JOB}", transported="true"}}) / {total}'  # since the API started
    reference = prom.value(f'max(spaceship_model_reference_transported_ratio{{job="{JOB}"}})')
    age_missing = f'sum(spaceship_input_missing_total{{job="{JOB}", column="Age"}}) / {total}'
    unseen_planet = f'sum(spaceship_input_unseen_category_total{{job="{JOB}", column="HomePlanet"}}) / {total}'
    spent_nothing = f'sum(spaceship_input_total_spend_bucket{{job="{JOB}", le="0.0"}}) / sum(spaceship_input_total_spend_count{{job="{JOB}"}})'
    before = {q: prom.value(q) for q in (share, age_missing, unseen_planet, spent_nothing)}
    assert 0.3 < reference < 0.7 and abs(before[share] - reference) < 0.15, (reference, before)
    assert before[unseen_planet] == 0 and before[age_missing] < 0.1

    # skewed traffic: only sleepers, from a planet the model never saw, age not given; batches of 50 (the array path)
    sleepers = [{**p, "PassengerId": f"{9000 + i // 50:04d}_{i % 50 + 1:02d}", "CryoSleep": True, "HomePlanet": "Pluto",
                 "Age": None, **{c: 0.0 for c in ("RoomService", "FoodCourt", "ShoppingMall", "Spa", "VRDeck")}}
                for i, p in enumerate(ordinary * 2)]
    sent += send(api.url, [sleepers[i:i + 50] for i in range(0, len(sleepers), 50)], deadline)
    prom.wait_until(total, lambda r: r and float(r[0]["value"][1]) == sent)
    after = {q: prom.value(q) for q in (share, age_missing, unseen_planet, spent_nothing)}
    assert after[share] > reference + 0.15, (reference, before, after)
    assert after[age_missing] > before[age_missing] + 0.5 and after[unseen_planet] > 0.5, (before, after)
    assert after[spent_nothing] > before[spent_nothing] + 0.2, (before, after)

    # the drift alerts' own expressions now hold, and the rules Prometheus evaluates put the alerts in `pending`
    assert prom.query(rules["SpaceshipPredictionDrift"]["expr"])
    assert {s["metric"]["column"] for s in prom.query(rules["SpaceshipInputMissingDrift"]["expr"])} >= {"Age"}
    assert {s["metric"]["column"] for s in prom.query(rules["SpaceshipInputUnseenCategories"]["expr"])} == {"HomePlanet"}
    pending = prom.wait_until('ALERTS{alertstate="pending"}',
                              lambda r: {s["metric"]["alertname"] for s in r} >= set(drift_alerts), timeout=20)
    assert not {s["metric"]["alertname"] for s in pending} & {"SpaceshipApiDown", "SpaceshipApiNotReady", "SpaceshipHighErrorRate"}
