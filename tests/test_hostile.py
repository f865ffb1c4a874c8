"""Hostile input, broken state and careless configuration, each class of failure once, as a user meets it: one clear
line (a non-zero exit, or a 4xx), never "unexpectedly", nothing lost (the previous model and results byte-identical),
no temporary file left behind, and the log file keeping the whole story."""
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import ROOT
from spaceship_clf.data import RAW_COLUMNS, make_passengers

SHORT = 200  # what a one-line message may take, its paths aside


def cli(home: Path, *args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPACESHIP_HOME": str(home), "SPACESHIP_TRACKING": "off", **(env or {})}
    return subprocess.run([sys.executable, str(ROOT / "model.py"), *args], cwd=home, env=env, capture_output=True, text=True, timeout=timeout)


def one_line(result, *words: str, paths: tuple = ()) -> str:
    "The failure's one line: exit 1, nothing else on stderr, no 'unexpectedly', short once its paths are taken out."
    lines = result.stderr.splitlines()
    assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    line = lines[0]
    assert "unexpectedly" not in line and "Traceback" not in result.stderr, line
    for word in words: assert word in line, (word, line)
    for path in paths: line = line.replace(str(path), "")
    text = re.sub(r"\S*/\S*", "", line)  # the message itself, its paths (and the commands with them) aside
    assert len(text) <= SHORT, (len(text), line)
    return lines[0]


def state(home: Path) -> dict:
    "What must not change when a command fails: results, the pointer, the versions, and no temporary files anywhere."
    files = {p.relative_to(home): p.read_bytes() for p in [home / "data/results.csv", home / "model/CURRENT"] if p.is_file()}
    versions = sorted(os.listdir(home / "model/versions"))
    debris = sorted(str(p.relative_to(home)) for p in home.rglob("*.tmp"))
    return {"files": files, "versions": versions, "debris": debris}


@pytest.fixture
def home(model_home):
    "A trained project with a results file, ready to be hurt."
    assert cli(model_home, "predict", f"--dataset={model_home / 'test.csv'}").returncode == 0
    return model_home


def test_a_repeated_column_in_the_header(home):
    before = state(home)
    text = (home / "test.csv").read_text().splitlines()
    (home / "twice.csv").write_text("\n".join([text[0] + ",Age"] + [row + ",3" for row in text[1:]]) + "\n")
    one_line(cli(home, "predict", f"--dataset={home / 'twice.csv'}"), "'Age' appears 2 times in the header", paths=(home,))
    assert state(home) == before


def test_ids_beyond_64_bit_integers_and_zero_padded_ids_are_passengers(home):
    frame = make_passengers(4, seed=3, labelled=False)
    frame["PassengerId"] = ["0001_01", "00001_01", "99999999999999999999999_01", "0002_01"]
    frame.to_csv(home / "ids.csv", index=False)
    done = cli(home, "predict", f"--dataset={home / 'ids.csv'}")
    assert done.returncode == 0, done.stderr
    assert [l.split(",")[0] for l in (home / "data/results.csv").read_text().splitlines()[1:]] == list(frame["PassengerId"])


@pytest.mark.parametrize("metadata", ['[1, 2, 3]', '{"version": "%s", "format": 2, "features": [], "threshold": "high"}'])
def test_metadata_of_the_wrong_type(home, metadata):
    version = (home / "model/CURRENT").read_text().strip()
    (home / "model/versions" / version / "metadata.json").write_text(metadata % version if "%s" in metadata else metadata)
    before = state(home)
    line = one_line(cli(home, "predict", f"--dataset={home / 'test.csv'}"), "metadata.json", "rollback --to VERSION", paths=(home,))
    assert "unusable" in line or "incompatible" in line, line
    assert state(home) == before


def test_a_results_path_that_is_a_folder(home):
    (home / "data/results.csv").unlink(); (home / "data/results.csv").mkdir()
    one_line(cli(home, "predict", f"--dataset={home / 'test.csv'}"), "cannot write", "it is a folder", paths=(home,))
    assert (home / "data/results.csv").is_dir() and not list(home.rglob("*.tmp"))


def test_a_data_folder_that_cannot_be_written(home, tmp_path):
    blocker = tmp_path / "a-file"; blocker.write_text("not a folder")
    result = cli(home, "predict", f"--dataset={home / 'test.csv'}", env={"SPACESHIP_DATA_DIR": str(blocker / "data")})
    warning, error = result.stderr.splitlines()  # the log file cannot be written: said once, then the failure itself
    assert "cannot write the log file" in warning and result.returncode == 1
    assert error.startswith("error: cannot write") and "log_file.log" not in error, error  # it points to no log it could not write


def test_a_fifo_as_the_dataset_is_refused_at_once(home):
    os.mkfifo(home / "pipe.csv")
    started = time.monotonic()
    one_line(cli(home, "predict", f"--dataset={home / 'pipe.csv'}", timeout=30), "not a regular file", paths=(home,))
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("damage", ["not text", "a folder", "no such version"])
def test_a_broken_pointer_is_named_with_its_repair(home, damage):
    pointer = home / "model/CURRENT"
    version = pointer.read_text().strip()
    if damage == "a folder": pointer.unlink(); pointer.mkdir()
    else: pointer.write_bytes(b"\xff\xfe\x00" if damage == "not text" else b"20991231T000000000000Z\n")
    results = (home / "data/results.csv").read_bytes()
    one_line(cli(home, "predict", f"--dataset={home / 'test.csv'}"), "CURRENT", "rollback --to VERSION", paths=(home,))
    listed = cli(home, "versions")
    assert listed.returncode == 0 and [v["version"] for v in json.loads(listed.stdout)["versions"]] == [version]
    assert "CURRENT" in json.loads(listed.stdout)["problem"] and listed.stderr.startswith("warning: ")
    one_line(cli(home, "rollback"), "CURRENT", paths=(home,))  # which one is "the one before" is unknown: it says how to choose
    if damage == "a folder": pointer.rmdir()
    repaired = cli(home, "rollback", f"--to={version}")
    assert repaired.returncode == 0, repaired.stderr
    assert cli(home, "predict", f"--dataset={home / 'test.csv'}").returncode == 0
    assert (home / "data/results.csv").read_bytes() == results


def test_one_bad_version_hides_none_of_the_others(home):
    assert cli(home, "train", f"--dataset={home / 'train.csv'}", "--cv-folds=0").returncode == 0
    first, second = json.loads(cli(home, "versions").stdout)["versions"]
    (home / "model/versions" / first["version"] / "metadata.json").write_text("{ not json")
    listed = json.loads(cli(home, "versions").stdout)["versions"]
    assert [v["version"] for v in listed] == [first["version"], second["version"]]
    assert "problem" in listed[0] and listed[1]["current"] and listed[1]["created_at"]


def test_a_killed_predict_leaves_nothing_the_next_run_does_not_sweep(home):
    big = home / "big.csv"
    frames = [make_passengers(20_000, seed=s, labelled=False) for s in range(8)]
    for i, f in enumerate(frames): f["PassengerId"] = [f"{i * 20_000 + k // 4 + 1:06d}_{k % 4 + 1:02d}" for k in range(len(f))]
    frames[0].iloc[:0].to_csv(big, index=False)
    for f in frames: f.to_csv(big, mode="a", header=False, index=False)
    results = (home / "data/results.csv").read_bytes()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        env = {**os.environ, "SPACESHIP_HOME": str(home), "SPACESHIP_TRACKING": "off"}
        proc = subprocess.Popen([sys.executable, str(ROOT / "model.py"), "predict", f"--dataset={big}"], cwd=home, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not list((home / "data").glob(".results.csv.*.tmp")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(sig); proc.wait(timeout=30)
        assert (home / "data/results.csv").read_bytes() == results  # the previous results, whole
        left = list((home / "data").glob(".results.csv.*.tmp"))
        if sig == signal.SIGTERM: assert not left, left  # stopped politely: it cleaned up
    assert cli(home, "predict", f"--dataset={home / 'test.csv'}").returncode == 0
    assert not list((home / "data").glob(".results.csv.*.tmp"))  # the next run swept what the killed one left


def test_outputs_follow_the_umask(home):
    assert cli(home, "train", f"--dataset={home / 'train.csv'}", "--cv-folds=0").returncode == 0
    assert cli(home, "predict", f"--dataset={home / 'test.csv'}").returncode == 0
    mask = os.umask(0); os.umask(mask)
    for path in (home / "data/results.csv", home / "model/CURRENT"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, (path, oct(path.stat().st_mode))


@pytest.mark.parametrize("value", ["sometimes", "ofline"])
def test_an_unknown_tracking_setting_stops_train_before_it_writes(home, value):
    before = state(home)
    one_line(cli(home, "train", f"--dataset={home / 'train.csv'}", "--cv-folds=0", env={"SPACESHIP_TRACKING": value}),
             "SPACESHIP_TRACKING", value)
    assert state(home) == before


def test_no_model_reply_names_no_server_path(start_server, tmp_path):
    server = start_server(home=tmp_path).wait("/health/live")
    for r in (requests.post(server.url + "/predict", json={"PassengerId": "0001_01"}, timeout=10),
              requests.get(server.url + "/health/ready", timeout=10), requests.get(server.url + "/model", timeout=10)):
        assert r.status_code == 503 and str(tmp_path) not in r.text, r.text


def test_a_broken_pointer_never_reaches_a_request(start_server, model_home):
    server = start_server(home=model_home, env={"SPACESHIP_MODEL_POLL_SECONDS": "0"}).wait("/health/ready").wait_for_workers(2)
    version = (model_home / "model/CURRENT").read_text().strip()
    (model_home / "model/CURRENT").write_bytes(b"\xff\xfe not a version")
    for _ in range(40):  # both workers, many polls
        assert requests.post(server.url + "/predict", json={"PassengerId": "0001_01"}, timeout=10).json()["model_version"] == version
        ready = requests.get(server.url + "/health/ready", timeout=10)
        assert ready.status_code == 200 and ready.json()["model_version"] == version
    assert "is not text" in ready.json()["degraded"] and str(model_home) not in ready.text


LOGGER = """
import sys
from spaceship_clf.core import get_logger
log = get_logger("writer")
for i in range(int(sys.argv[2])): log.info("writer %s line %06d " + "x" * 60, sys.argv[1], i)
"""


def test_two_processes_write_one_log_across_rotations(tmp_path):
    env = {**os.environ, "SPACESHIP_HOME": str(tmp_path), "SPACESHIP_LOG_MAX_BYTES": "20000", "SPACESHIP_LOG_BACKUPS": "200",
           "SPACESHIP_LOG_LEVEL": "ERROR"}
    writers = [subprocess.Popen([sys.executable, "-c", LOGGER, name, "2000"], env=env) for name in ("a", "b")]
    for w in writers: assert w.wait(timeout=120) == 0
    files = sorted((tmp_path / "data").glob("log_file.log*"))
    assert len(files) > 10  # it rotated, many times, while both wrote
    lines = [l for f in files for l in f.read_text().splitlines()]
    for name in ("a", "b"):
        mine = sorted(int(l.split(" line ")[1][:6]) for l in lines if f"writer {name} line" in l)
        assert mine == list(range(2000)), (name, len(mine))  # every line once: none lost, none clobbered
    assert all(l.endswith("x" * 60) for l in lines if " line " in l)  # and none cut in two
