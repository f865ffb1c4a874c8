"""The tuning notebook run headless by papermill, reproducibility, and several processes sharing one study.

Synthetic passengers and tiny trials keep this to about a minute on two cores; the real-data check runs only when
../shared/data/spaceship-titanic exists.
"""
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import optuna
import pandas as pd
import pytest

from conftest import need

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "nbs" / "03_tune.ipynb"
REAL = ROOT.parent / "shared" / "data" / "spaceship-titanic" / "train.csv"
TINY = dict(n_trials=3, folds=2, max_iterations=30, seed=7)


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "IN_TEST" and not k.startswith(("SPACESHIP_", "CLEARML_"))}
    return {**env, **{k: str(v) for k, v in extra.items()}}


def papermill_args(home: Path, **params) -> list[str]:
    args = [sys.executable, "-m", "papermill", str(NOTEBOOK), str(home / "tune-out.ipynb"), "-k", "python3", "--cwd", str(NOTEBOOK.parent)]
    for k, v in {**TINY, **params}.items(): args += ["-p", k, str(v)]
    return args


def papermill(homes: list[Path], track: str = "off", timeout: int = 400, **params) -> list[str]:
    "Run the tuning notebook in each project folder of `homes` at once, as the README says; fail with its output if one fails."
    runs = [subprocess.Popen(papermill_args(home, **params), env=clean_env(SPACESHIP_HOME=home, SPACESHIP_TRACKING=track),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for home in homes]
    outputs = []
    for run in runs:
        _, err = run.communicate(timeout=timeout)
        assert run.returncode == 0, err[-3000:]
        outputs.append(err)
    return outputs


def predictions(home: Path) -> pd.Series:
    "The current model's probabilities for the synthetic passengers the run tuned on."
    code = textwrap.dedent(f"""
        from spaceship_clf.classifier import My_Classifier_Model
        from spaceship_clf.data import load_passengers, passenger_columns
        clf = My_Classifier_Model({str(home / 'model')!r})
        frame = load_passengers({str(home / 'data' / 'synthetic_train.csv')!r})
        print(",".join(repr(float(p)) for p in clf.bundle.predict_proba(passenger_columns(frame))))
    """)
    out = subprocess.run([sys.executable, "-c", code], env=clean_env(SPACESHIP_TRACKING="off"), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return pd.Series([float(x) for x in out.stdout.strip().split(",")])


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    "Two papermill runs with the same seed on the same (synthetic) data, in two project folders."
    homes = [tmp_path_factory.mktemp(f"home{i}") for i in range(2)]
    papermill(homes)  # the two at once: they share nothing but the machine
    return homes


def test_papermill_run_leaves_study_params_model_and_plots(two_runs):
    home = two_runs[0]
    best = json.loads((home / "data" / "tuning" / "best_params.json").read_text())
    assert set(best["params"]) >= {"iterations", "learning_rate", "depth", "l2_leaf_reg", "random_seed"}
    assert best["params"]["random_seed"] == TINY["seed"] and best["folds"] == TINY["folds"]
    assert 0.5 < best["cv_accuracy_mean"] <= 1 and len(best["fold_scores"]) == TINY["folds"]
    study = optuna.load_study(study_name="catboost-cv", storage=f"sqlite:///{home / 'data' / 'optuna.db'}")
    assert len(study.trials) == TINY["n_trials"]
    assert study.best_trial.number == best["best_trial"]
    version = (home / "model" / "CURRENT").read_text().strip()
    meta = json.loads((home / "model" / "versions" / version / "metadata.json").read_text())
    assert meta["params"] == best["params"]  # the final model was trained with the tuned parameters ...
    assert meta["params_source"].startswith("tuning study 'catboost-cv': best of 3 trials")  # ... with their provenance
    [report] = [json.loads(p.read_text()) for p in (home / "data" / "reports").glob("gate-*.json")]  # ... through the gate
    assert (report["decision"], report["new_version"]) == ("promoted", version) and report["reason"].startswith("no current model")
    promoted = json.loads((home / "model" / "params.json").read_text())
    assert promoted["params"] == best["params"]  # what `python model.py train` uses from now on
    plots = {p.name for p in (home / "data" / "plots").iterdir()}
    for name in ("history", "param_importances", "parallel_coordinate"):
        assert {f"catboost-cv-{name}.html", f"catboost-cv-{name}.png"} <= plots
    assert not (home / "data" / "clearml").exists()  # tracking was switched off
    out = json.loads((home / "tune-out.ipynb").read_text())
    assert any("parameters" in c["metadata"].get("tags", []) for c in out["cells"])
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in out["cells"])


def test_same_seed_same_trials_and_same_predictions(two_runs):
    studies = [optuna.load_study(study_name="catboost-cv", storage=f"sqlite:///{h / 'data' / 'optuna.db'}") for h in two_runs]
    assert [t.params for t in studies[0].trials] == [t.params for t in studies[1].trials]
    assert [t.value for t in studies[0].trials] == [t.value for t in studies[1].trials]
    params = [json.loads((h / "data" / "tuning" / "best_params.json").read_text())["params"] for h in two_runs]
    assert params[0] == params[1]
    first, second = predictions(two_runs[0]), predictions(two_runs[1])
    assert len(first) == 800 and first.nunique() > 10
    pd.testing.assert_series_equal(first, second)


WORKER = """
import sys
from spaceship_clf.data import synthetic_passengers
from spaceship_clf.evaluation import LabelledPassengers
from spaceship_clf.tune import run_study, open_storage, run_settings
data = LabelledPassengers.of(synthetic_passengers(300, seed=1))
storage, _ = open_storage(sys.argv[2], run_settings(sys.argv[1]))
run_study(data, "shared", storage, n_trials=int(sys.argv[3]), n_folds=2, max_iterations=20, worker=int(sys.argv[4]), thread_count=1)
"""


def postgres_bin(name: str) -> str | None:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    return found


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    "A throwaway PostgreSQL server on 127.0.0.1 (the Debian postgresql package); skips when there is none."
    need(postgres_bin("initdb") and postgres_bin("pg_ctl"), "no PostgreSQL server binaries (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="spaceship-pg-")); folder.chmod(0o777)  # pytest's tmp folders are private to root
    as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []  # initdb refuses to run as root
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    pg_ctl = as_user + [postgres_bin("pg_ctl"), "-D", str(folder / "db")]
    need(not as_user or shutil.which("runuser"), "running as root without runuser: initdb cannot run")
    subprocess.run(as_user + [postgres_bin("initdb"), "-D", str(folder / "db"), "-U", "optuna", "--auth=trust"], check=True,
                   capture_output=True, timeout=120)
    subprocess.run(pg_ctl + ["-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "-l", str(folder / "pg.log"), "-w",
                             "-t", "60", "start"], check=True, capture_output=True, timeout=90)
    try:
        import psycopg2
        db = psycopg2.connect(host="127.0.0.1", port=port, user="optuna", dbname="postgres"); db.autocommit = True
        db.cursor().execute("CREATE DATABASE optuna"); db.close()
        yield f"postgresql+psycopg2://optuna@127.0.0.1:{port}/optuna"  # SQLAlchemy 2.1 defaults to psycopg 3
    finally:
        subprocess.run(pg_ctl + ["-m", "fast", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def run_workers(home: Path, storage: str, n_workers: int = 2, n_trials: int = 4):
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(home), storage, str(n_trials), str(w)],
                                env=clean_env(SPACESHIP_TRACKING="off"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for w in range(n_workers)]
    for w in workers:
        _, err = w.communicate(timeout=240)
        assert w.returncode == 0, err[-2000:]


def assert_trials_add_up(trials, expected: int):
    assert len(trials) == expected  # every trial of every worker landed in the one study
    assert sorted(t.number for t in trials) == list(range(expected))
    assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for t in trials)
    assert len({tuple(sorted(t.params.items())) for t in trials}) == expected  # workers did not try the same points


def test_two_processes_share_one_journal_study(tmp_path):
    run_workers(tmp_path, "data/optuna.journal")
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "data" / "optuna.journal")))
    assert_trials_add_up(optuna.load_study(study_name="shared", storage=storage).trials, 8)


def test_two_processes_share_one_postgresql_study(tmp_path, postgres):
    run_workers(tmp_path, postgres)
    assert_trials_add_up(optuna.load_study(study_name="shared", storage=postgres).trials, 8)


@pytest.mark.skipif(not REAL.exists(), reason="the competition data is not in ../shared/data/spaceship-titanic")
def test_real_data_tunes_to_a_sane_score(tmp_path):
    from spaceship_clf.evaluation import LabelledPassengers
    from spaceship_clf.tune import run_settings, run_study, training_data
    frame, _ = training_data(REAL, run_settings(tmp_path))
    study = run_study(LabelledPassengers.of(frame), n_trials=1, n_folds=2, max_iterations=60, thread_count=2)
    assert 0.75 < study.best_value < 0.9, study.best_value
