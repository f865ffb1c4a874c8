"""The real production server (`python flask_app.py`, gunicorn) on 127.0.0.1 in a subprocess, over HTTP: every endpoint,
the client script, metrics summed over workers, a missing model, plain `gunicorn flask_app:app`, and a
schemathesis fuzz run against the served OpenAPI document that must find no 5xx."""
import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

from conftest import ROOT

ONE = {"PassengerId": "0013_01", "HomePlanet": "Earth", "CryoSleep": True, "Cabin": "G/3/S", "Age": 27}


def metric(base_url: str, name: str, **labels) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    prefix = f"{name}{{{want}}} " if want else f"{name} "
    text = requests.get(base_url + "/metrics", timeout=5).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


def test_endpoints_over_http(api_server, trained_home):
    url = api_server.url
    r = requests.post(url + "/predict", json=ONE, timeout=10)
    assert r.status_code == 200 and r.json()["predictions"][0]["PassengerId"] == "0013_01"
    group = [dict(ONE, PassengerId=f"0013_0{i}") for i in (1, 2, 3)]
    assert len(requests.post(url + "/predict", json=group, timeout=10).json()["predictions"]) == 3
    csv = requests.post(url + "/predict", data=(trained_home / "test.csv").read_bytes(), headers={"Content-Type": "text/csv"}, timeout=30)
    assert csv.status_code == 200 and csv.text.startswith("PassengerId,Transported\n") and len(csv.text.splitlines()) == 301
    upload = requests.post(url + "/predict", files={"file": ("test.csv", (trained_home / "test.csv").read_bytes(), "text/csv")}, timeout=30)
    assert upload.text == csv.text
    bad = requests.post(url + "/predict", data="{", headers={"Content-Type": "application/json"}, timeout=10)
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]
    assert requests.post(url + "/predict", data="x", headers={"Content-Type": "text/xml"}, timeout=10).status_code == 415
    assert requests.get(url + "/health/live", timeout=5).json() == {"status": "alive"}
    assert requests.get(url + "/health/ready", timeout=5).json()["ready"] is True
    assert requests.get(url + "/model", timeout=5).json()["features"]
    assert requests.get(url + "/openapi.json", timeout=5).json()["paths"]["/predict"]
    assert "swagger-ui" in requests.get(url + "/docs", timeout=5).text
    assert requests.get(url + "/", timeout=5).headers["Content-Security-Policy"]
    assert "Debugger" not in requests.get(url + "/nowhere", timeout=5).text  # never Werkzeug's debugger


def test_body_over_the_limit_over_http(api_server):
    r = requests.post(api_server.url + "/predict", data=b"[" + b" " * 1_000_001 + b"]", headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 413 and "over the limit" in r.json()["error"]


def test_client_script(api_server, trained_home, tmp_path):
    def client(*args):
        return subprocess.run([sys.executable, "-m", "spaceship_clf.client", "--url", api_server.url, *args],
                              capture_output=True, text=True, timeout=60, cwd=ROOT)
    r = client("passenger", "PassengerId=0013_01", "HomePlanet=Earth", "CryoSleep=true", "Age=27")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["predictions"][0]["PassengerId"] == "0013_01"
    (tmp_path / "group.json").write_text(json.dumps([dict(ONE, PassengerId=f"0020_0{i}") for i in (1, 2)]))
    r = client("group", str(tmp_path / "group.json"))
    assert r.returncode == 0 and len(json.loads(r.stdout)["predictions"]) == 2
    r = client("csv", str(trained_home / "test.csv"), "--output", str(tmp_path / "out.csv"))
    assert r.returncode == 0 and "wrote 300 predictions" in r.stdout
    assert (tmp_path / "out.csv").read_text().startswith("PassengerId,Transported\n")
    assert json.loads(client("health").stdout)["ready"] is True
    assert json.loads(client("model").stdout)["version"]
    r = client("passenger", "PassengerId=0013_01", "Age=300")
    assert r.returncode == 1 and "HTTP 422" in r.stderr and "Age" in r.stdout


def test_metrics_add_up_over_workers(api_server):
    "Every worker's requests are counted (multiprocess mode), and a killed worker's gauges are dropped."
    url = api_server.url
    deadline = time.monotonic() + 60  # ready means one worker is; the other may still be loading its model
    while metric(url, "spaceship_workers_ready") < 2 and time.monotonic() < deadline: time.sleep(0.5)
    assert metric(url, "spaceship_workers_ready") == 2
    before = metric(url, "spaceship_http_requests_total", endpoint="/health/live", method="GET", status="200")
    for _ in range(40):
        requests.get(url + "/health/live", timeout=5)  # a new connection each time: the workers share them
    after = metric(url, "spaceship_http_requests_total", endpoint="/health/live", method="GET", status="200")
    assert after - before == 40
    workers = psutil.Process(api_server.process.pid).children()
    assert len(workers) == 2
    workers[0].send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        alive = [p for p in psutil.Process(api_server.process.pid).children() if p.pid != workers[0].pid]
        if len(alive) == 2 and metric(url, "spaceship_workers_ready") == 2: break
        time.sleep(0.5)
    assert metric(url, "spaceship_workers_ready") == 2  # not 3: the dead worker's live gauge is gone
    assert metric(url, "spaceship_http_requests_total", endpoint="/health/live", method="GET", status="200") >= after  # counters keep


def test_plain_gunicorn(start_server):
    server = start_server(args=["-w", "2"], gunicorn=True).wait("/health/ready")
    assert requests.post(server.url + "/predict", json=ONE, timeout=10).status_code == 200
    for _ in range(20): requests.get(server.url + "/health/live", timeout=5)
    assert metric(server.url, "spaceship_http_requests_total", endpoint="/health/live", method="GET", status="200") >= 20
    deadline = time.monotonic() + 60  # the second worker may still be loading its model
    while metric(server.url, "spaceship_workers_ready") < 2 and time.monotonic() < deadline: time.sleep(0.5)
    assert metric(server.url, "spaceship_workers_ready") == 2  # both workers' gauges, summed from the shared folder


def test_missing_model_is_not_ready_and_not_a_crash_loop(start_server, tmp_path):
    (tmp_path / "data").mkdir()
    server = start_server(home=tmp_path).wait("/health/live")
    r = requests.get(server.url + "/health/ready", timeout=5)
    assert r.status_code == 503 and "no trained model" in r.json()["reason"]
    assert requests.post(server.url + "/predict", json=ONE, timeout=5).status_code == 503
    time.sleep(3)
    assert server.process.poll() is None
    output = server.output()
    assert output.count("Booting worker") == 2, output  # no worker was restarted
    assert "no trained model" in (tmp_path / "data/log_file.log").read_text()


def test_fuzz_openapi_no_5xx(api_server):
    "Schemathesis generates requests for every operation of the served OpenAPI document (valid and invalid ones)."
    schema = schemathesis.openapi.from_url(api_server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/predict", "/health/ready", "/model"}
    statuses = set()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if operation.path == "/predict" else (GenerationMode.POSITIVE,):
            for media_type in ("application/json", "text/csv", "multipart/form-data") if operation.path == "/predict" else (None,):
                @settings(max_examples=40 if media_type else 8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
                @given(case=operation.as_strategy(mode, media_type=media_type) if media_type else operation.as_strategy(mode))
                def fuzz(case):
                    statuses.add(case.call_and_validate(checks=[not_a_server_error], timeout=30).status_code)
                try:
                    fuzz()
                except Unsatisfiable:  # a schema with nothing to violate (a plain string body) has no negative cases
                    assert mode == GenerationMode.NEGATIVE
    assert max(statuses) < 500 and {200, 422} <= statuses, statuses
    assert "unexpected error" not in api_server.output()
