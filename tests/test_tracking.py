"""ClearML tracking, end to end in fresh processes: the offline sessions that a tuning run and a training leave under
data/clearml/ hold the parameters, scalars, plots, the dataset fingerprint and the model; off means off."""
import hashlib
import json
import socket
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import catboost
import pytest

from spaceship_clf.tracking import RECORDED
from test_tune import clean_env, papermill

TRAIN = textwrap.dedent("""
    import json, sys
    from spaceship_clf.classifier import My_Classifier_Model
    from spaceship_clf.data import make_passengers
    home = sys.argv[1]
    make_passengers(300, seed=3).to_csv(f"{home}/train.csv", index=False)
    meta = My_Classifier_Model(f"{home}/model").train(f"{home}/train.csv", cv_folds=2, params=dict(iterations=20, random_seed=0))
    print(json.dumps({"version": meta["version"], "fingerprint": meta["data_fingerprint"], "clearml": "clearml" in sys.modules}))
""")


def train(home: Path, **env) -> dict:
    "Train in a fresh process, then wait for the background recorder's last log line (bounded); what it said."
    done = subprocess.run([sys.executable, "-c", TRAIN, str(home)], env=clean_env(SPACESHIP_HOME=home, **env),
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {**out, "stderr": done.stderr, "recorded": recorded(home, out["version"]) if env.get("SPACESHIP_TRACKING") != "off" else None}


def recorded(home: Path, version: str, timeout: float = 150) -> str:
    "The log lines of the background recording of `version`, once its last line is written."
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = (home / "data" / "log_file.log").read_text() if (home / "data" / "log_file.log").exists() else ""
        if f"{RECORDED} {version}" in log: return log
        time.sleep(0.5)
    raise AssertionError(f"the recording of {version} did not finish within {timeout}s:\n{log[-3000:]}")


def open_sessions(home: Path, tmp: Path) -> dict[str, Path]:
    "Unzip the offline sessions under home/data/clearml (the zips are what gets imported into a server), by task type."
    sessions = {}
    for i, archive in enumerate((home / "data" / "clearml" / "offline").glob("*.zip")):
        with zipfile.ZipFile(archive) as z: z.extractall(tmp / f"session{i}")
        kind = json.loads((tmp / f"session{i}" / "task.json").read_text())["type"]
        assert kind not in sessions, f"two {kind} sessions"
        sessions[kind] = tmp / f"session{i}"
    return sessions


def open_session(home: Path, tmp: Path) -> Path:
    "The run's session (training or tuning), after checking the dataset version it names is the other session."
    sessions = open_sessions(home, tmp)
    dataset = sessions.pop("data_processing")
    [session] = sessions.values()
    task, data_task = (json.loads((s / "task.json").read_text()) for s in (session, dataset))
    linked = task["hyperparams"]["Datasets"]["train"]["value"]
    assert data_task["id"] in linked, (linked, data_task["id"])  # the run names the dataset version it learned from
    assert data_task["project_name"].endswith("/.datasets/spaceship-titanic train")
    [state] = [json.loads(s.read_text()) for s in dataset.rglob("state.json")]  # the version: the file, its size and sha256
    [entry] = state["dataset_file_entries"]
    trained_on = Path(entry["local_path"])
    assert entry["hash"] == hashlib.sha256(trained_on.read_bytes()).hexdigest() and trained_on.name.endswith("train.csv")
    for model in task["offline_output_models"]: assert model["init"]["config_dict"]["dataset_id"] == linked
    return session


def metrics(session: Path) -> list[dict]:
    return [m for line in (session / "metrics.jsonl").read_text().splitlines() for m in json.loads(line)]


def test_tuning_session_holds_params_scalars_plots_dataset_and_model(tmp_path):
    home = tmp_path / "home"; home.mkdir()
    papermill([home], track="offline", n_trials=3)
    session = open_session(home, tmp_path)
    task = json.loads((session / "task.json").read_text())
    assert task["name"] == "tune catboost" and task["project_name"] == "spaceship-clf"
    params = task["hyperparams"]
    assert params["tuning"]["n_trials"]["value"] == "3" and params["tuning"]["folds"]["value"] == "2"
    best = json.loads((home / "data" / "tuning" / "best_params.json").read_text())
    assert float(params["best_params"]["learning_rate"]["value"]) == pytest.approx(best["params"]["learning_rate"])
    reported = metrics(session)
    trials = [m for m in reported if m["type"] == "training_stats_scalar" and m["metric"] == "trial accuracy" and m["variant"] == "trial"]
    assert sorted(m["iter"] for m in trials) == [0, 1, 2]
    summary = {m["variant"]: m["value"] for m in reported if m["metric"] == "Summary"}
    assert summary["best_cv_accuracy"] == pytest.approx(best["cv_accuracy_mean"])
    assert summary["gate_seconds"] > 0
    plots = {m["variant"] for m in reported if m["type"] == "plot" and m["metric"] == "optuna"}
    assert plots == {"history", "param_importances", "parallel_coordinate"}
    artifacts = {a["key"]: a for a in task["execution"]["artifacts"]}
    assert best["data_fingerprint"] in artifacts["dataset"]["type_data"]["preview"]
    version = (home / "model" / "CURRENT").read_text().strip()
    [model] = task["offline_output_models"]
    assert model["init"]["framework"] == "CatBoost" and model["init"]["config_dict"]["version"] == version
    assert model["init"]["config_dict"]["params"] == best["params"]
    weights = session / "models" / "model.cbm"
    assert weights.read_bytes() == (home / "model" / "versions" / version / "model.cbm").read_bytes()
    catboost.CatBoostClassifier().load_model(str(weights))  # a real, loadable model


def test_training_session_holds_params_cv_and_model(tmp_path):
    out = train(tmp_path, SPACESHIP_TRACKING="offline")
    assert out["clearml"] is False and "leaked" not in out["stderr"]  # recorded in the background: the training never imports ClearML
    assert f"{RECORDED} {out['version']}: data/clearml/offline/offline-" in out["recorded"]
    session = open_session(tmp_path, tmp_path)
    task = json.loads((session / "task.json").read_text())
    assert task["name"] == "train catboost"
    assert task["hyperparams"]["catboost"]["iterations"]["value"] == "20"
    assert task["hyperparams"]["training"]["version"]["value"] == out["version"]
    folds = [m for m in metrics(session) if m["metric"] == "cv accuracy"]
    assert len(folds) == 2 and all(0.5 < m["value"] <= 1 for m in folds)
    artifacts = {a["key"]: a for a in task["execution"]["artifacts"]}
    assert out["fingerprint"] in artifacts["dataset"]["type_data"]["preview"]
    assert task["offline_output_models"][0]["init"]["config_dict"]["version"] == out["version"]
    assert (session / "models" / "model.cbm").exists()


def test_tracking_off_imports_nothing_and_writes_nothing(tmp_path):
    out = train(tmp_path, SPACESHIP_TRACKING="off")
    assert out["clearml"] is False
    assert not (tmp_path / "data" / "clearml").exists()
    assert (tmp_path / "model" / "versions" / out["version"] / "model.cbm").exists()


def test_unreachable_server_falls_back_to_an_offline_session(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    out = train(tmp_path, CLEARML_API_HOST=f"http://127.0.0.1:{port}", CLEARML_API_ACCESS_KEY="x", CLEARML_API_SECRET_KEY="y",
                HOME=tmp_path, CLEARML_CONFIG_FILE=tmp_path / "none.conf")
    assert "not reachable" in out["recorded"]  # said in the log: the recording goes on offline
    assert open_session(tmp_path, tmp_path).joinpath("task.json").exists()  # a training and its dataset, offline


def test_offline_sessions_are_kept_to_a_bounded_number(tmp_path):
    for _ in range(2): train(tmp_path, SPACESHIP_TRACKING="offline", SPACESHIP_TRACKING_KEEP="3")
    sessions = {p.name.removesuffix(".zip") for p in (tmp_path / "data" / "clearml" / "offline").glob("offline-*")}
    assert len(sessions) == 3, sessions  # two trainings and their datasets made four: the oldest went
