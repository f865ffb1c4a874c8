"""The wheel, installed the way the Dockerfile installs it: `poetry build`, the locked runtime requirements and the
wheel into a clean venv, then its console scripts used as a user (and the image's start command) would."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, free_port
from spaceship_clf.data import make_passengers


def poetry() -> str:
    "Poetry as .ci/install uses it (.ci/poetry: the one on PATH, else its own venv, installed on first use)."
    return str(ROOT / ".ci" / "poetry")


SYSTEM_PYTHON = Path("/usr/bin/python3")  # like the image's, executable by any user (a pyenv under /root is not)


def world_readable_dir(prefix: str) -> Path:
    "A temporary folder other users can enter (pytest's are private to root)."
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp")); path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def venv():
    "A clean venv holding only the locked runtime set and the freshly built wheel."
    work = world_readable_dir("spaceship-wheel-")
    subprocess.run([poetry(), "build", "--format", "wheel", "--output", str(work / "dist")], cwd=ROOT, check=True, capture_output=True)
    subprocess.run([poetry(), "export", "--only", "main", "-f", "requirements.txt", "-o", str(work / "requirements.txt")],
                   cwd=ROOT, check=True, capture_output=True)
    python = SYSTEM_PYTHON if SYSTEM_PYTHON.exists() else Path(sys.executable)
    subprocess.run([str(python), "-m", "venv", str(work / "venv")], check=True)
    pip = [str(work / "venv/bin/python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "-r", str(work / "requirements.txt")], check=True, capture_output=True, timeout=900)
    wheel, = (work / "dist").glob("spaceship_clf-*.whl")
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, capture_output=True)
    yield work / "venv"
    shutil.rmtree(work, ignore_errors=True)


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


def wait_for(url: str, status: int, server: subprocess.Popen, timeout: float = 60) -> float:
    "Seconds until `url` answers `status`."
    start = time.monotonic()
    while True:
        try: got = urllib.request.urlopen(url, timeout=2).status
        except urllib.error.HTTPError as e: got = e.code
        except OSError: got = None
        if got == status: return time.monotonic() - start
        assert time.monotonic() - start < timeout and server.poll() is None, f"{url} never answered {status} (last: {got})"
        time.sleep(0.3)


@pytest.mark.skipif(os.geteuid() != 0, reason="running as the image's non-root user needs root to switch users")
def test_image_commands_as_a_non_root_user(venv):
    """The image's commands as a user that owns the model volume but cannot write the data folder (a read-only or
    foreign bind mount): the API starts anyway (log to stderr, one warning), is not ready without a model, becomes
    ready once one is trained in a one-off run, and with a writable data folder the log and results land there."""
    if not os.access(venv / "bin" / "python", os.X_OK) or not SYSTEM_PYTHON.exists():
        pytest.skip("no interpreter other users can run")
    home = world_readable_dir("spaceship-image-")
    (home / "data").mkdir(mode=0o755)  # root's: read-only for the image's user
    (home / "model").mkdir(); os.chown(home / "model", 65534, 65534)
    make_passengers(400, seed=43).to_csv(home / "train.csv", index=False)
    make_passengers(50, seed=44, labelled=False).to_csv(home / "test.csv", index=False)
    as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    env = {"PATH": f"{venv}/bin:/usr/bin:/bin", "SPACESHIP_HOME": str(home), "SPACESHIP_TRACKING": "off", "HOME": str(home)}
    port = free_port()
    server = subprocess.Popen([*as_user, f"{venv}/bin/spaceship-clf-serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              cwd=home, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/health/live", 200, server)
        wait_for(f"{url}/health/ready", 503, server)  # up, but no model yet
        trained = subprocess.run([*as_user, f"{venv}/bin/spaceship-clf", "train", "--dataset=train.csv", "--cv-folds=0"],
                                 cwd=home, env=env, capture_output=True, text=True, timeout=300)
        assert trained.returncode == 0, trained.stderr
        assert trained.stderr.count("cannot write the log file") == 1  # one warning, then stderr only
        assert wait_for(f"{url}/health/ready", 200, server, timeout=15) < 15  # the running API picked the model up
    finally:
        os.killpg(server.pid, 15); _, err = server.communicate(timeout=30)
    assert "cannot write the log file" in err and not (home / "data" / "log_file.log").exists()
    os.chown(home / "data", 65534, 65534)  # a writable data folder: the log and the results land there
    predicted = subprocess.run([*as_user, f"{venv}/bin/spaceship-clf", "predict", "--dataset=test.csv"],
                               cwd=home, env=env, capture_output=True, text=True, timeout=300)
    assert predicted.returncode == 0, predicted.stderr
    assert len((home / "data" / "results.csv").read_text().splitlines()) == 51 and (home / "data" / "log_file.log").exists()
    shutil.rmtree(home, ignore_errors=True)
