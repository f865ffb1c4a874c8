"""The README's own commands, as a newcomer runs them, in order: the blocks marked `<!-- readme-test: NAME -->` run in
a fresh project folder (a checkout's entry points and settings.ini, synthetic Kaggle files in data/, this machine's
`.venv`). The error examples must print exactly what the README shows; the set-up block must leave the submission; the
API examples must be answered by `python flask_app.py`. (`bash .ci/install` itself is tested from a clean clone on a
stock Debian by tests/test_stock_os.py: here it links the installed venv.)"""
import os
import re
import shutil
import signal
import subprocess

import pytest
import requests

from conftest import ROOT, free_port, wait_until
from spaceship_clf.data import make_passengers

README = ROOT / "README.md"
MARKED = re.compile(r"<!-- readme-test: (\w+)[^>]*-->\n```(\w+)\n(.*?)```", re.S)


def blocks() -> dict[str, str]:
    "Each marked block's text, by name."
    return {name: text for name, _, text in MARKED.findall(README.read_text())}


@pytest.fixture
def project(tmp_path):
    "A fresh project: what a clone holds at the top, Kaggle-format files in data/, no model; `.ci/install` links the venv."
    for name in ("model.py", "flask_app.py", "settings.ini"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "data").mkdir(); (tmp_path / "model").mkdir(); (tmp_path / ".ci").mkdir()
    make_passengers(500, seed=31).to_csv(tmp_path / "data" / "train.csv", index=False)
    make_passengers(120, seed=32, labelled=False).to_csv(tmp_path / "data" / "test.csv", index=False)
    (tmp_path / ".ci" / "install").write_text(f"ln -sfn {ROOT / '.venv'} .venv\n")
    return tmp_path


def env() -> dict:
    from test_tune import clean_env
    return clean_env(SPACESHIP_TRACKING="off", PATH="/usr/bin:/bin")  # no venv on PATH: the block must activate it


def run_block(text: str, cwd, port: int | None = None) -> subprocess.CompletedProcess:
    if port: text = text.replace("localhost:5000", f"127.0.0.1:{port}")
    return subprocess.run(["bash", "-euo", "pipefail", "-c", text], cwd=cwd, env=env(), capture_output=True, text=True, timeout=600)


def answers(url: str) -> bool:
    try: return requests.get(url, timeout=2).ok
    except requests.RequestException: return False


def test_the_readme_marks_the_blocks_this_test_runs():
    assert set(blocks()) == {"setup", "errors", "api", "explain"}, sorted(blocks())


def test_a_newcomer_runs_the_readme(project):
    found = blocks()
    # before any model: each error example prints exactly the line the README shows
    subprocess.run(["bash", ".ci/install"], cwd=project, check=True)
    for command, shown in re.findall(r"^\$ (.+)\n(.+)$", found["errors"], re.M):
        run = subprocess.run(["bash", "-c", f"source .venv/bin/activate && {command}"], cwd=project, env=env(),
                             capture_output=True, text=True, timeout=300)
        assert (run.returncode, run.stderr.strip()) == (1, shown), (command, run.stdout, run.stderr)
    assert not any((project / "model").iterdir()) and not (project / "data" / "results.csv").exists()  # nothing written

    setup = run_block(found["setup"], project)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    results = (project / "data" / "results.csv").read_text().splitlines()
    assert results[0] == "PassengerId,Transported" and len(results) == 121
    assert (project / "model" / "CURRENT").is_file() and (project / "data" / "log_file.log").is_file()

    port = free_port()
    server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "python"), "flask_app.py", "--port", str(port)], cwd=project, env=env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_until(lambda: answers(f"http://127.0.0.1:{port}/health/ready"), timeout=90), "the server did not become ready"
        api = run_block(found["api"], project, port)
        assert api.returncode == 0, api.stderr
        assert len(re.findall(r'\{"model_version": "\w+", "predictions"', api.stdout)) == 2 and '"PassengerId": "0020_02"' in api.stdout, api.stdout[:2000]  # a passenger, a group
        assert (project / "results.csv").read_text().splitlines()[0] == "PassengerId,Transported"
        assert '"status": "alive"' in api.stdout and "spaceship_predictions_total" in api.stdout and '"openapi"' in api.stdout
        explain = run_block(found["explain"], project, port)
        assert explain.returncode == 0 and '"explanation"' in explain.stdout and '"contributions"' in explain.stdout, explain.stdout
    finally:
        os.killpg(server.pid, signal.SIGTERM); server.wait(timeout=30)
