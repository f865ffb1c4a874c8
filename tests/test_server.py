"""The real production server (`python flask_app.py`, gunicorn) on 127.0.0.1 in a subprocess, over HTTP: every endpoint,
the client script, metrics summed over workers, a missing model, plain `gunicorn flask_app:app`, the command line
(`--help` of both entry points), a new model version swapped in under load and a rollback, a broken version refused,
and a schemathesis fuzz run against the served OpenAPI document that must find no 5xx."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

from conftest import ROOT, free_port
from spaceship_clf.core import ModelError, atomic_write_text
from spaceship_clf.data import CAT_POSITIONS, make_passengers, TARGET, model_input, passenger_columns, read_json, read_passengers
from spaceship_clf.store import current_version, load_model, rollback, save_model, set_current

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


def test_a_csv_body_arriving_in_pieces(api_server, tmp_path):
    "A body still arriving when the CSV reader starts (a slow client, a long upload) is waited for, not a 500."
    make_passengers(30_000, seed=5, labelled=False).to_csv(tmp_path / "big.csv", index=False)
    body = (tmp_path / "big.csv").read_bytes()  # a few of the reader's blocks (BLOCK_BYTES)
    connection = http.client.HTTPConnection("127.0.0.1", api_server.port, timeout=30)
    connection.putrequest("POST", "/predict")
    connection.putheader("Content-Type", "text/csv"); connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body[:len(body) // 3])
    time.sleep(1)
    connection.send(body[len(body) // 3:])
    answer = connection.getresponse()
    expected = requests.post(api_server.url + "/predict", data=body, headers={"Content-Type": "text/csv"}, timeout=30).text
    assert (answer.status, answer.read().decode()) == (200, expected)


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


# ---------------------------------------------------------------- the command line
SERVE_SCRIPT = Path(sys.executable).parent / "spaceship-clf-serve"


@pytest.mark.parametrize("command", [[sys.executable, "flask_app.py"], [str(SERVE_SCRIPT)]], ids=["flask_app.py", "spaceship-clf-serve"])
def test_help_prints_and_exits_without_serving(command, tmp_path):
    "Both entry points share one argument definition; --help prints it and exits 0 at once, binding nothing."
    assert Path(command[0]).exists(), f"{command[0]} is missing: reinstall the project (pip install --no-deps -e .)"
    port = free_port()
    env = {**os.environ, "SPACESHIP_HOME": str(tmp_path), "SPACESHIP_PORT": str(port), "SPACESHIP_TRACKING": "off"}
    start = time.monotonic()
    done = subprocess.run([*command, "--help"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    took = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ") and "gunicorn" in done.stdout
    for option in ("--host", "--port", "--workers", "--worker-class {gevent,sync,gthread}", "--model-dir"):
        assert option in done.stdout, option
    assert f"port={port}" in done.stdout  # the settings' value is shown
    assert "Booting worker" not in done.stderr and "Listening at" not in done.stderr
    assert took < 10, took
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # nothing listens
    bad = subprocess.run([*command, "--port", "0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "port" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr


# ---------------------------------------------------------------- a new version while serving (issue #10)
GROUP = [dict(ONE, PassengerId="0013_01", Destination="TRAPPIST-1e", Name="Nelly Carsoning"),
         dict(ONE, PassengerId="0013_02", CryoSleep=False, Age=41, RoomService=310.0, Spa=12.0, HomePlanet=None),
         dict(ONE, PassengerId="0013_03", Cabin="G/4/S", Age=8, CryoSleep=None)]
GROUP_BODY = json.dumps(GROUP).encode()


def save_another_version(home: Path, model_dir: Path, seed: int) -> str:
    "A second version of the model, fitted on the home's train.csv with other settings, saved but not current."
    from catboost import CatBoostClassifier
    frame = read_passengers(home / "train.csv", require_target=True)
    model = CatBoostClassifier(cat_features=CAT_POSITIONS, iterations=40, depth=3, random_seed=seed, verbose=False,
                               allow_writing_files=False, thread_count=1)
    model.fit(model_input(passenger_columns(frame)), frame[TARGET].astype(bool))
    version = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")  # sorts after the first: rollback() returns to it
    save_model(model, {"version": version, "threshold": 0.5, "params_source": "test"}, model_dir, make_current=False)
    return version


@dataclass
class Answer:
    sent: float
    received: float
    status: int  # 0: no HTTP answer at all
    version: str | None
    probabilities: list | None
    detail: str = ""


class Load:
    "Closed-loop clients posting one travel group until stopped; bounded in requests and in time."
    def __init__(self, url: str, clients: int = 4, max_requests: int = 4000, max_seconds: float = 60):
        self.url, self.max_requests, self.deadline = url, max_requests, time.monotonic() + max_seconds
        self.answers: list[Answer] = []
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(clients)]

    def client(self):
        for _ in range(self.max_requests):
            if self.stopped.is_set() or time.monotonic() > self.deadline: return
            sent = time.monotonic()
            try:
                r = requests.post(self.url + "/predict", data=GROUP_BODY, headers={"Content-Type": "application/json"}, timeout=10)
                body = r.json() if r.status_code == 200 else {}
                answer = Answer(sent, time.monotonic(), r.status_code, body.get("model_version"),
                                [p["probability"] for p in body.get("predictions", [])], "" if r.ok else r.text[:200])
            except requests.RequestException as e:
                answer = Answer(sent, time.monotonic(), 0, None, None, repr(e))
            self.answers.append(answer)

    def __enter__(self) -> "Load":
        for t in self.threads: t.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        for t in self.threads: t.join(timeout=30)
        assert not any(t.is_alive() for t in self.threads)


def test_new_version_and_rollback_under_load(start_server, model_home, tmp_path):
    """Promotion and rollback while 4 clients keep 2 workers busy: no failed request, no answer from a version it does not
    name, and within 2 s of each switch every answer (from both workers) names the new version."""
    store = tmp_path / "store"  # outside the home: --model-dir must be what the server reads
    os.replace(model_home / "model", store)
    first = current_version(store)
    second = save_another_version(model_home, store, seed=7)
    columns = read_json(GROUP_BODY)[0]
    expected = {v: list(load_model(store, v).predict(columns, thread_count=1)[0]) for v in (first, second)}
    assert max(abs(a - b) for a, b in zip(expected[first], expected[second])) > 1e-6  # the versions answer differently
    server = start_server(home=model_home, args=["--workers", "2", "--model-dir", str(store)]).wait("/health/ready")
    server.wait_for_workers(2)

    def in_use() -> dict:
        return {v: metric(server.url, "spaceship_model_info", version=v) for v in (first, second)}

    with Load(server.url) as load:
        time.sleep(2)
        set_current(second, store); promoted = time.monotonic()  # what the gate does
        time.sleep(2.5)
        assert in_use() == {first: 0.0, second: 1.0}  # livemax over workers: both have swapped
        assert requests.get(server.url + "/health/ready", timeout=5).json()["model_version"] == second
        assert requests.get(server.url + "/model", timeout=5).json()["version"] == second
        time.sleep(1.5)
        assert rollback(model_dir=store) == first; rolled_back = time.monotonic()
        time.sleep(2.5)
        assert in_use() == {first: 1.0, second: 0.0}
        time.sleep(1.5)
    answers = load.answers

    failed = [a for a in answers if a.status != 200]
    assert not failed, failed[:5]
    for a in answers:  # each answer comes whole from the version it names
        assert a.version in expected and a.probabilities == pytest.approx(expected[a.version], abs=1e-12), a
    before = [a for a in answers if a.received < promoted - 0.2]
    settled_on_second = [a for a in answers if promoted + 2 <= a.sent and a.received < rolled_back - 0.2]
    settled_on_first = [a for a in answers if a.sent >= rolled_back + 2]
    assert len(before) >= 20 and len(settled_on_second) >= 50 and len(settled_on_first) >= 50, (len(before), len(settled_on_second), len(settled_on_first))
    assert {a.version for a in before} == {first}
    assert {a.version for a in settled_on_second} == {second}
    assert {a.version for a in settled_on_first} == {first}
    output = server.output()
    assert "Booting worker" in output and output.count("Booting worker") == 2, output  # no worker was restarted


def test_a_version_that_cannot_load_is_refused(start_server, model_home):
    "A pointer to a broken version (a hand-edited or copied CURRENT): refused and counted; the old version keeps answering."
    store = model_home / "model"
    good = current_version(store)
    broken = save_another_version(model_home, store, seed=3)
    (store / "versions" / broken / "model.cbm").write_bytes(b"not a CatBoost model")
    with pytest.raises(ModelError):
        set_current(broken, store)  # the store's own door refuses it ...
    server = start_server(home=model_home, args=["--workers", "2"]).wait("/health/ready")
    server.wait_for_workers(2)
    assert metric(server.url, "spaceship_model_load_failures_total") == 0
    atomic_write_text(store / "CURRENT", broken + "\n")  # ... so write the pointer by hand
    versions, statuses, deadline = set(), set(), time.monotonic() + 3
    while time.monotonic() < deadline:
        r = requests.post(server.url + "/predict", json=GROUP, timeout=10)
        statuses.add(r.status_code); versions.add(r.json().get("model_version"))
    assert statuses == {200} and versions == {good}
    assert metric(server.url, "spaceship_model_load_failures_total", version=broken) >= 1
    assert metric(server.url, "spaceship_model_info", version=good) == 1 and metric(server.url, "spaceship_workers_ready") == 2
    ready = requests.get(server.url + "/health/ready", timeout=5)
    assert ready.status_code == 200 and ready.json()["model_version"] == good
    assert f"refused model version {broken}" in (model_home / "data/log_file.log").read_text()
