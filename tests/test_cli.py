"""The command line end to end, as a user runs it: `python model.py train|predict|evaluate` in a subprocess."""
import configparser
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

import spaceship_clf
from spaceship_clf.data import make_passengers

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "spaceship-titanic"


def run(home: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    "`python model.py ARGS` with the project home (data/, model/) in `home`."
    env = {**os.environ, "SPACESHIP_HOME": str(home), "SPACESHIP_TRACKING": "off"}
    return subprocess.run([sys.executable, str(ROOT / "model.py"), *args], cwd=home, env=env,
                          capture_output=True, text=True, timeout=timeout)


def error_lines(result) -> list[str]:
    "The failure lines a person reads on the terminal: bare messages, no log decoration."
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    "A project home with a trained model and a results file, built from synthetic passengers."
    home = tmp_path_factory.mktemp("home")
    make_passengers(500, seed=11).to_csv(home / "train.csv", index=False)
    make_passengers(200, seed=12, labelled=False).to_csv(home / "test.csv", index=False)
    trained = run(home, "train", f"--dataset={home / 'train.csv'}", "--cv-folds=3")
    assert trained.returncode == 0, trained.stderr
    assert len(trained.stdout.splitlines()) == 1 and json.loads(trained.stdout)["version"], trained.stdout  # one JSON line
    assert trained.stderr == "", trained.stderr  # progress only with -v
    predicted = run(home, "predict", f"--dataset={home / 'test.csv'}")
    assert predicted.returncode == 0, predicted.stderr
    return home


def test_train_predict_evaluate(project):
    results = pd.read_csv(project / "data/results.csv")
    assert list(results.columns) == ["PassengerId", "Transported"]
    assert list(results.PassengerId) == list(pd.read_csv(project / "test.csv").PassengerId)
    assert set(results.Transported.unique()) <= {True, False} and results.Transported.nunique() == 2
    version = (project / "model/CURRENT").read_text().strip()
    meta = json.loads((project / "model/versions" / version / "metadata.json").read_text())
    assert meta["cv"]["folds"] == 3 and 0.7 < meta["cv"]["accuracy_mean"] <= 1.0
    for key in ("features", "params", "data_fingerprint", "versions", "created_at", "schema"):
        assert meta[key], key
    assert (project / "model/versions" / version / "model.cbm").stat().st_size > 1000
    evaluated = run(project, "evaluate", f"--dataset={project / 'train.csv'}")
    assert evaluated.returncode == 0 and json.loads(evaluated.stdout)["accuracy"] > 0.8
    log = (project / "data/log_file.log").read_text()
    for step in ("training on", "CV catboost", "saved model version", "predicting", "wrote 200 predictions", "evaluated model"):
        assert step in log, step


def test_help():
    result = subprocess.run([sys.executable, str(ROOT / "model.py"), "--help"], capture_output=True, text=True)
    for command in ("train", "predict", "evaluate", "retrain", "versions", "rollback"):  # every sub-command is listed
        assert command in result.stdout, command
    assert result.stdout.startswith("usage: model.py")  # named as it was invoked
    for args, expected in ((["train", "--help"], "--dataset"), (["predict", "--help"], "--dataset"), (["retrain", "--help"], "--tolerance")):
        result = subprocess.run([sys.executable, str(ROOT / "model.py"), *args], capture_output=True, text=True)
        assert result.returncode == 0 and expected in result.stdout, args
    result = subprocess.run([sys.executable, str(ROOT / "model.py"), "train"], capture_output=True, text=True)
    assert result.returncode == 2 and "--dataset" in result.stderr


BAD_INPUTS = {  # name -> (how to make the file, command, what the one error line says)
    "missing file": (None, "predict", "no such file"),
    "empty file": (lambda p: p.write_text(""), "predict", "the file is empty"),
    "not a CSV": (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"), "predict", "not a readable CSV"),
    "missing columns": (lambda p: p.write_text("PassengerId,Age\n0001_01,3\n"), "predict", "missing columns HomePlanet"),
    "no target": (lambda p: make_passengers(50, labelled=False).to_csv(p, index=False), "train", "no 'Transported' column"),
    "non-boolean target": (lambda p: make_passengers(50).assign(Transported="perhaps").to_csv(p, index=False), "train", "'Transported' must be True or False"),
    "bad number": (lambda p: make_passengers(50).assign(Age="old").to_csv(p, index=False), "predict", "'Age' must be a number"),
    "header only": (lambda p: make_passengers(5).head(0).to_csv(p, index=False), "predict", "no passengers (only a header)"),
    "no PassengerId column": (lambda p: make_passengers(20, labelled=False).drop(columns="PassengerId").to_csv(p, index=False),
                              "predict", "missing column PassengerId;"),
    "not a passenger file": (lambda p: p.write_text("city,population\nParis,2100000\n"), "predict", "not a passenger file"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_clear_line_and_loses_nothing(project, case):
    make, command, message = BAD_INPUTS[case]
    path = project / f"bad-{case.replace(' ', '-')}.csv"
    if make: make(path)
    before = {p: p.read_bytes() for p in (project / "data/results.csv", project / "model/CURRENT")}
    versions = sorted(os.listdir(project / "model/versions"))
    result = run(project, command, f"--dataset={path}")
    assert result.returncode == 1
    assert result.stderr.splitlines() == error_lines(result) and len(error_lines(result)) == 1, result.stderr  # one line, nothing else
    assert message in error_lines(result)[0] and result.stdout == "", result.stderr
    assert "Traceback" not in result.stderr and "unexpectedly" not in result.stderr
    assert error_lines(result)[0].count("HomePlanet") <= 1, error_lines(result)[0]  # the columns are not listed twice
    assert {p: p.read_bytes() for p in before} == before  # previous results and model pointer intact
    assert sorted(os.listdir(project / "model/versions")) == versions
    assert "Traceback" in (project / "data/log_file.log").read_text()  # the full trace went to the log


def test_predict_without_model(tmp_path):
    make_passengers(20, labelled=False).to_csv(tmp_path / "test.csv", index=False)
    result = run(tmp_path, "predict", f"--dataset={tmp_path / 'test.csv'}")
    assert result.returncode == 1 and "no trained model" in error_lines(result)[0]
    assert "python model.py train" in error_lines(result)[0]
    assert not (tmp_path / "data/results.csv").exists()


@pytest.mark.parametrize("damage", ["corrupted", "incompatible"])
def test_unusable_model_is_refused(project, tmp_path, damage):
    home = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(project), str(home)], check=True)
    version = (home / "model/CURRENT").read_text().strip()
    folder = home / "model/versions" / version
    if damage == "corrupted":
        (folder / "model.cbm").write_bytes(b"not a catboost model")
    else:
        meta = json.loads((folder / "metadata.json").read_text()); meta["format"] = 999
        (folder / "metadata.json").write_text(json.dumps(meta))
    before = (home / "data/results.csv").read_bytes()
    result = run(home, "predict", f"--dataset={home / 'test.csv'}")
    assert result.returncode == 1 and damage in error_lines(result)[0]
    assert (home / "data/results.csv").read_bytes() == before


def test_one_version_number_everywhere():
    ini = configparser.ConfigParser(); ini.read(ROOT / "settings.ini")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert ini["DEFAULT"]["version"] == project["version"] == spaceship_clf.__version__


@pytest.mark.skipif(not (REAL / "train.csv").exists(), reason="competition files not on this machine")
def test_real_competition_files(tmp_path):
    trained = run(tmp_path, "train", f"--dataset={REAL / 'train.csv'}", "--cv-folds=0")
    assert trained.returncode == 0, trained.stderr
    predicted = run(tmp_path, "predict", f"--dataset={REAL / 'test.csv'}")
    assert predicted.returncode == 0, predicted.stderr
    results = pd.read_csv(tmp_path / "data/results.csv")
    sample = pd.read_csv(REAL / "sample_submission.csv")
    assert len(results) == 4277 and list(results.columns) == list(sample.columns)
    assert list(results.PassengerId) == list(sample.PassengerId)
    assert results.Transported.dtype == bool and 0.35 < results.Transported.mean() < 0.65
    evaluated = run(tmp_path, "evaluate", f"--dataset={REAL / 'train.csv'}")
    assert json.loads(evaluated.stdout)["accuracy"] > 0.8  # training accuracy: a sanity floor, not the CV score
