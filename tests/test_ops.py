"""Operations: reproducible training, a training killed at any moment, two trainings at once, a full disk during save,
drifted input files, and the retraining pipeline from the command line."""
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import catboost
import numpy as np
import pandas as pd
import pytest

from spaceship_clf.classifier import My_Classifier_Model
from spaceship_clf.store import current_version, list_versions, load_model
from spaceship_clf.core import ModelError
from spaceship_clf.data import load_passengers, make_passengers, passenger_columns

ROOT = Path(__file__).resolve().parents[1]
QUICK = dict(iterations=60, random_seed=0)


def cli(home: Path, *args: str, wait: bool = True, timeout: int = 300):
    "`python model.py ARGS` with its project home in `home` (run to the end, or started and returned)."
    env = {**os.environ, "SPACESHIP_HOME": str(home), "SPACESHIP_TRACKING": "off"}
    command = [sys.executable, str(ROOT / "model.py"), *args]
    if not wait:
        return subprocess.Popen(command, cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, cwd=home, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def home(tmp_path):
    make_passengers(1500, seed=31).to_csv(tmp_path / "train.csv", index=False)
    make_passengers(300, seed=32, labelled=False).to_csv(tmp_path / "test.csv", index=False)
    return tmp_path


def test_same_data_and_seed_give_identical_predictions(home):
    outputs = []
    for run in range(2):
        clf = My_Classifier_Model(home / f"model{run}", home / f"results{run}.csv")
        meta = clf.train(home / "train.csv", cv_folds=0, params=QUICK, track=False)
        outputs.append((clf.bundle.predict_proba(passenger_columns(load_passengers(home / "test.csv"))), meta))
    (p0, m0), (p1, m1) = outputs
    assert np.array_equal(p0, p1)
    assert m0["data_fingerprint"] == m1["data_fingerprint"] and m0["params"] == m1["params"]
    for key in ("versions", "code_version", "params_source", "created_at"):
        assert key in m0


@pytest.mark.parametrize("kill_after", [1.5, 5.0])
def test_training_killed_at_any_moment_loses_nothing(home, kill_after):
    assert cli(home, "train", f"--dataset={home / 'train.csv'}", "--cv-folds=0").returncode == 0
    before = current_version(home / "model")
    victim = cli(home, "train", f"--dataset={home / 'train.csv'}", "--cv-folds=5", wait=False)
    time.sleep(kill_after)
    victim.send_signal(signal.SIGKILL); victim.wait(timeout=30)
    assert current_version(home / "model") == before
    assert load_model(home / "model").version == before  # the previous model still loads and serves
    assert cli(home, "predict", f"--dataset={home / 'test.csv'}").returncode == 0
    after = cli(home, "train", f"--dataset={home / 'train.csv'}", "--cv-folds=0")  # nothing left behind trips it up
    assert after.returncode == 0, after.stderr
    assert not list((home / "model/versions").glob(".staging-*"))
    assert current_version(home / "model") != before


def test_two_trainings_at_once_never_interleave(home):
    first = cli(home, "train", f"--dataset={home / 'train.csv'}", "--cv-folds=5", wait=False)
    time.sleep(4)  # the first holds the training lock by now (it is scoring folds)
    second = cli(home, "train", f"--dataset={home / 'train.csv'}", "--cv-folds=0")
    assert first.wait(timeout=300) == 0
    assert second.returncode == 1 and "another training is writing" in second.stderr
    assert len(list_versions(home / "model")) == 1


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EROFS])
def test_full_or_read_only_disk_during_save(home, monkeypatch, error):
    clf = My_Classifier_Model(home / "model", home / "results.csv")
    good = clf.train(home / "train.csv", cv_folds=0, params=QUICK, track=False)
    def fail(*args, **kwargs): raise OSError(error, os.strerror(error))
    monkeypatch.setattr(catboost.CatBoostClassifier, "save_model", fail)
    with pytest.raises(ModelError, match="could not save the model.*previous model is untouched"):
        clf.train(home / "train.csv", cv_folds=0, params=QUICK, track=False)
    assert current_version(home / "model") == good["version"] and list_versions(home / "model") == [good["version"]]
    assert not list((home / "model/versions").glob(".staging-*"))


DRIFT = {  # how a file drifted -> (change, expected exit code, what the output says)
    "renamed column": (lambda f: f.rename(columns={"HomePlanet": "Home_Planet"}), 1, "missing column HomePlanet"),
    "dropped column": (lambda f: f.drop(columns=["VRDeck"]), 1, "missing column VRDeck"),
    "new categories": (lambda f: f.assign(HomePlanet="Venus", Destination="Alpha Centauri"), 0, "never seen in training"),
    "all-missing column": (lambda f: f.assign(Age=None), 0, "wrote 300 predictions"),
}


@pytest.mark.parametrize("case", DRIFT)
def test_drifted_input(home, case):
    assert cli(home, "train", f"--dataset={home / 'train.csv'}", "--cv-folds=0").returncode == 0
    change, code, message = DRIFT[case]
    change(pd.read_csv(home / "test.csv")).to_csv(home / "drift.csv", index=False)
    result = cli(home, "predict", f"--dataset={home / 'drift.csv'}", "-v")  # with its progress
    assert result.returncode == code and message in result.stderr, result.stderr
    if code == 0:
        assert len(pd.read_csv(home / "data/results.csv")) == 300


def test_retrain_pipeline_from_the_command_line(home):
    quick = home / "quick.json"; quick.write_text(json.dumps({"params": QUICK, "source": "quick test parameters"}))
    first = cli(home, "retrain", f"--dataset={home / 'train.csv'}", f"--params={quick}")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["decision"] == "promoted" and Path(report["report"]).exists()
    again = json.loads(cli(home, "retrain", f"--dataset={home / 'train.csv'}", "--folds=2").stdout)  # same data, same parameters
    assert again["decision"] == "unchanged" and "new_version" not in again  # nothing to promote: no copy of the model
    assert "gate promoted" in (home / "data/log_file.log").read_text()
    listed = json.loads(cli(home, "versions").stdout)["versions"]
    assert [v["current"] for v in listed] == [True] and listed[0]["cv_accuracy"] == report["candidate"]["accuracy"]  # the gate's score
    bad = cli(home, "retrain", f"--dataset={home / 'train.csv'}", f"--params={home / 'nope.json'}")
    assert bad.returncode == 1 and "not a readable parameters file" in bad.stderr
