"""optuna-dashboard reads the tuning study: start it on 127.0.0.1 against a small study (SQLite, as the default, and
a journal file, as several workers use), read the study and its trials through its HTTP API, stop it."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import requests

from conftest import free_port
from test_tune import clean_env

DASHBOARD = Path(sys.executable).with_name("optuna-dashboard")


@pytest.fixture(scope="module")
def study_home(tmp_path_factory):
    "A project folder with one tiny tuning study stored both ways."
    from spaceship_clf.data import synthetic_passengers
    from spaceship_clf.evaluation import LabelledPassengers
    from spaceship_clf.tune import open_storage, run_settings, run_study
    home = tmp_path_factory.mktemp("dash")
    data = LabelledPassengers.of(synthetic_passengers(200, seed=2))
    settings = run_settings(home)
    for url in ("sqlite:///data/optuna.db", "data/optuna.journal"):
        run_study(data, "catboost-cv", open_storage(url, settings)[0], n_trials=3, n_folds=2, max_iterations=15, thread_count=1)
    return home


@pytest.fixture(params=["sqlite", "journal"])
def dashboard(request, study_home):
    "A running optuna-dashboard for the study; its base URL. Stopped afterwards whatever happens."
    storage = {"sqlite": f"sqlite:///{study_home / 'data' / 'optuna.db'}", "journal": str(study_home / "data" / "optuna.journal")}[request.param]
    port = free_port()
    proc = subprocess.Popen([str(DASHBOARD), storage, "--host", "127.0.0.1", "--port", str(port), "--server", "wsgiref", "--quiet"],
                            env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                if requests.get(f"{url}/api/meta", timeout=2).ok: break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "optuna-dashboard did not answer within 60 s"
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try: proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL); proc.wait(timeout=10)


def test_dashboard_serves_the_study_and_its_trials(dashboard, study_home):
    studies = requests.get(f"{dashboard}/api/studies", timeout=10).json()["study_summaries"]
    [summary] = [s for s in studies if s["study_name"] == "catboost-cv"]
    assert summary["directions"] == ["maximize"]
    detail = requests.get(f"{dashboard}/api/studies/{summary['study_id']}", timeout=10).json()
    assert detail["name"] == "catboost-cv"
    assert [t["number"] for t in detail["trials"]] == [0, 1, 2]
    assert {p["name"] for p in detail["trials"][0]["params"]} >= {"depth", "learning_rate", "iterations", "l2_leaf_reg"}
    local = optuna.load_study(study_name="catboost-cv", storage=f"sqlite:///{study_home / 'data' / 'optuna.db'}")
    [best] = detail["best_trials"]
    assert best["number"] == local.best_trial.number and best["values"] == [pytest.approx(local.best_value)]
    assert detail["has_intermediate_values"]  # the per-fold reports the pruner uses
    assert "fold_scores" in {a["key"] for a in detail["union_user_attrs"]}


def test_dashboard_is_bound_to_localhost_only(dashboard):
    port = int(dashboard.rsplit(":", 1)[1])
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1", "127.0.1.1"}
    for address in addresses:
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex((address, port)) != 0, f"dashboard reachable on {address}"
