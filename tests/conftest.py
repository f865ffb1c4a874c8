"""Shared fixtures: a project home with a small trained model, a writable copy of it, and the API served from it by
the production server.

`trained_home` is generic: any test that needs a model (CLI, API, tuning) can use it instead of training its own.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() == "true"


def need(available: bool, reason: str):
    "Skip the calling test when a tool it needs is missing, but fail it under CI (CI=true): CI installs every tool."
    if not available:
        if IN_CI: pytest.fail(f"{reason}; CI=true, where .ci/run installs it, so this is a failure")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory) -> Path:
    """A project home (`SPACESHIP_HOME`) holding `train.csv`, `test.csv` (synthetic passengers, Kaggle format) and a
    small CatBoost model trained on them through `My_Classifier_Model` in `model/`. Treat it as read-only."""
    from spaceship_clf.classifier import My_Classifier_Model
    from spaceship_clf.data import make_passengers
    home = tmp_path_factory.mktemp("trained_home")
    (home / "data").mkdir()
    make_passengers(600, seed=21).to_csv(home / "train.csv", index=False)
    make_passengers(300, seed=22, labelled=False).to_csv(home / "test.csv", index=False)
    My_Classifier_Model(model_dir=home / "model", results_file=home / "data/results.csv").train(
        home / "train.csv", cv_folds=2, params=dict(iterations=60, random_seed=0), track=False)
    return home


@pytest.fixture
def model_home(trained_home, tmp_path) -> Path:
    "A writable copy of `trained_home` (its CSV files and model store) for tests that promote, roll back or break versions."
    home = tmp_path / "home"
    shutil.copytree(trained_home, home, ignore=shutil.ignore_patterns("server-*.log", "data"))
    (home / "data").mkdir()
    return home


def wait_until(check, timeout: float, every: float = 0.5):
    "The first truthy `check()` within `timeout` seconds, else None."
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (got := check()): return got
        time.sleep(every)
    return None


def reply(url: str, json=None, timeout: float = 3):
    "The response to a GET (or a POST of `json`), or None when nothing answered."
    import requests
    try: return requests.request("GET" if json is None else "POST", url, json=json, timeout=timeout)
    except requests.RequestException: return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiServer:
    "A server process started from the repository root on 127.0.0.1; `url` is its base URL."
    def __init__(self, home: Path, command: list[str], port: int, env: dict | None = None):
        self.home, self.port, self.url = home, port, f"http://127.0.0.1:{port}"
        self.log = home / f"server-{port}.log"
        env = {**os.environ, "SPACESHIP_HOME": str(home), "SPACESHIP_LOG_LEVEL": "INFO", "SPACESHIP_TRACKING": "off", **(env or {})}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def wait(self, path: str = "/health/live", status: int = 200, timeout: float = 60) -> "ApiServer":
        "Block until `path` answers `status` (or fail with the server's output)."
        import requests
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if requests.get(self.url + path, timeout=2).status_code == status: return self
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.url}{path} did not answer {status} within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_workers(self, workers: int, timeout: float = 60) -> "ApiServer":
        "Block until `workers` workers have a model (`spaceship_workers_ready`); ready means only that one has."
        import requests
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = requests.get(self.url + "/metrics", timeout=5).text
            ready = sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith("spaceship_workers_ready "))
            if ready >= workers: return self
            time.sleep(0.3)
        raise AssertionError(f"fewer than {workers} workers had a model within {timeout}s:\n{self.output()}")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the server's own session: its master and workers
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL); self.process.wait(timeout=10)


@pytest.fixture
def start_server(trained_home):
    "Start servers for one test: `start_server(home=..., args=[...], gunicorn=False)`; all are stopped afterwards."
    started = []
    def start(home: Path = trained_home, args: list[str] = (), gunicorn: bool = False, env: dict | None = None) -> ApiServer:
        port = free_port()
        if gunicorn:
            command = [sys.executable, "-m", "gunicorn", "flask_app:app", "-b", f"127.0.0.1:{port}", "--no-control-socket", *args]
        else:
            command = [sys.executable, "flask_app.py", "--host", "127.0.0.1", "--port", str(port), *args]
        started.append(server := ApiServer(home, command, port, env))
        return server
    yield start
    for server in started: server.stop()


@pytest.fixture(scope="module")
def api_server(trained_home, tmp_path_factory):
    "`python flask_app.py` (gunicorn, 2 workers) serving the trained model on 127.0.0.1, ready."
    server = ApiServer(trained_home, [sys.executable, "flask_app.py", "--host", "127.0.0.1", "--port", str(port := free_port()),
                                      "--workers", "2"], port)
    try:
        yield server.wait("/health/ready")
    finally:
        server.stop()


FIGURES: list[str] = []


@pytest.fixture(scope="session")
def report():
    "`report(line)`: a figure a test measured, printed in the session's summary (pytest hides a passing test's output)."
    return FIGURES.append


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("figures measured")
        for line in FIGURES: terminalreporter.write_line(line)


class Image:
    "The project's image built from a clean clone: its `tag`, the build's `seconds`, the `clone` it came from."
    def __init__(self, tag: str, seconds: float, clone: Path):
        self.tag, self.seconds, self.clone = tag, seconds, clone


@pytest.fixture(scope="session")
def project_image(tmp_path_factory, report) -> Image:
    "The Dockerfile built once per session with podman from a clean clone of the committed tree; removed afterwards."
    import containers
    need(containers.unusable() is None, f"podman cannot run here: {containers.unusable()}")
    clone = containers.clean_clone(ROOT, tmp_path_factory.mktemp("image") / "spaceship-clf")
    tag = f"localhost/spaceship-clf:test-{os.getpid()}"
    seconds = containers.build(clone, tag)
    report(f"image: built in {seconds:.0f} s from a clean clone, {containers.own_layers_mb(tag):.0f} MB above the base")
    yield Image(tag, seconds, clone)
    containers.podman("rmi", "-f", tag, check=False)
    containers.podman("image", "prune", "-f", check=False)  # the build's intermediate layers too (the bases stay)
