"""The wheel, installed the way the Dockerfile installs it: `poetry build`, the locked runtime requirements and the
wheel into a clean venv, then its console scripts used as a user (and the image's start command) would."""
import json
import os
import shutil
import site
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from spaceship_clf.data import make_passengers

ROOT = Path(__file__).resolve().parents[1]


def poetry() -> str:
    found = shutil.which("poetry") or Path(site.getuserbase(), "bin", "poetry")
    if not Path(found).exists():
        pytest.fail("poetry is not installed: run bash .ci/install")
    return str(found)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    "A clean venv holding only the locked runtime set and the freshly built wheel."
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([poetry(), "build", "--format", "wheel", "--output", str(work / "dist")], cwd=ROOT, check=True, capture_output=True)
    subprocess.run([poetry(), "export", "--only", "main", "-f", "requirements.txt", "-o", str(work / "requirements.txt")],
                   cwd=ROOT, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
    pip = [str(work / "venv/bin/python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "-r", str(work / "requirements.txt")], check=True, capture_output=True, timeout=900)
    wheel, = (work / "dist").glob("spaceship_clf-*.whl")
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, capture_output=True)
    return work / "venv"


def test_console_scripts_train_predict_and_serve(venv, tmp_path):
    env = {**os.environ, "SPACESHIP_HOME": str(tmp_path), "SPACESHIP_TRACKING": "off", "PATH": f"{venv}/bin:{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    make_passengers(400, seed=41).to_csv(tmp_path / "train.csv", index=False)
    make_passengers(100, seed=42, labelled=False).to_csv(tmp_path / "test.csv", index=False)
    where = subprocess.run([f"{venv}/bin/python", "-c", "import spaceship_clf; print(spaceship_clf.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout
    assert str(venv) in where  # the installed wheel, not the checkout
    for args in (["train", "--dataset=train.csv", "--cv-folds=2"], ["predict", "--dataset=test.csv"]):
        done = subprocess.run([f"{venv}/bin/spaceship-clf", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    assert len((tmp_path / "data/results.csv").read_text().splitlines()) == 101
    bad = subprocess.run([f"{venv}/bin/spaceship-clf", "predict", "--dataset=nope.csv"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "no such file" in bad.stderr

    port = free_port()
    server = subprocess.Popen([f"{venv}/bin/spaceship-clf-serve"], cwd=tmp_path, start_new_session=True,
                              env={**env, "SPACESHIP_HOST": "127.0.0.1", "SPACESHIP_PORT": str(port), "SPACESHIP_WORKERS": "1"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
        while True:  # the image's HEALTHCHECK: /health/ready answers 200 once the model is loaded
            try:
                if urllib.request.urlopen(f"{url}/health/ready", timeout=2).status == 200: break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "server never became ready"
                time.sleep(0.5)
        body = json.dumps({"PassengerId": "0001_01", "CryoSleep": True, "Age": 30}).encode()
        reply = urllib.request.urlopen(urllib.request.Request(f"{url}/predict", body, {"Content-Type": "application/json"}), timeout=10)
        prediction, = json.loads(reply.read())["predictions"]
        assert prediction["PassengerId"] == "0001_01" and 0 <= prediction["probability"] <= 1
    finally:
        os.killpg(server.pid, 15); server.wait(timeout=30)
