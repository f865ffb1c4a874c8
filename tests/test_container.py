"""The image, built with podman from a clean clone (rootful, runc, the stand-in base: see tests/containers.py) and
run as compose runs it: non-root, HEALTHCHECK unhealthy without a model and healthy after a one-off `train`
container sharing the model volume, `POST /predict`, a hot swap after a second one-off train, nothing of the
development tree inside, its size printed; then the retrain workflow's sequence: the image with a promoted model
store inside answers a fixed request with that version's answer, the next promotion's image with the next one's,
and the image is pushed to a local registry (Debian's docker-registry) tagged with the model version."""
import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

import containers
from conftest import ROOT, free_port, need, reply, wait_until
from containers import podman

OWN_LAYERS_BUDGET_MB = 970  # issue 20: the Dockerfile's own layers (about 1.1 GB on the official base)
MAKE_DATA = "from spaceship_clf.data import make_passengers; make_passengers(600, seed={seed}).to_csv('/tmp/train.csv', index=False)"


def one_off_train(image: str, *mounts: str, seed: int) -> str:
    "`spaceship-clf train` in a one-off container (as `docker compose run --rm train`); its output."
    done = podman("run", "--rm", *mounts, image, "sh", "-c",
                  f'python -c "{MAKE_DATA.format(seed=seed)}" && spaceship-clf train --dataset=/tmp/train.csv --cv-folds=0', timeout=600)
    return done.stdout + done.stderr


def predict(url: str) -> dict:
    return requests.post(url + "/predict", json={"PassengerId": "0013_01", "CryoSleep": False, "Age": 27, "Spa": 549}, timeout=10).json()


@pytest.fixture
def scratch():
    "A unique name prefix; every container and volume named with it is removed afterwards."
    prefix = f"spaceship-test-{uuid.uuid4().hex[:8]}"
    yield prefix
    names = podman("ps", "-a", "--format", "{{.Names}}", check=False).stdout.split()
    for name in [n for n in names if n.startswith(prefix)]: podman("rm", "-f", "-v", name, check=False)  # -v: its anonymous volumes too
    for volume in podman("volume", "ls", "--format", "{{.Name}}", check=False).stdout.split():
        if volume.startswith(prefix): podman("volume", "rm", "-f", volume, check=False)


def test_the_image_holds_the_runtime_only_and_fits_the_budget(project_image, report):
    image = project_image.tag
    inspected = json.loads(podman("image", "inspect", image).stdout)[0]
    assert inspected["Config"]["User"] == "app" and "/health/ready" in " ".join(inspected["Healthcheck"]["Test"])
    uid = podman("run", "--rm", image, "id", "-u").stdout.strip()
    assert uid != "0"
    # nothing of the development tree in what the Dockerfile adds (/opt/venv, /app): notebooks, wheels, git, test
    # suites (ours by name, third parties' folders), the build's /src or /wheels
    ours = " ".join(f"-o -name {p.name}" for p in (ROOT / "tests").glob("test_*.py"))
    found = podman("run", "--rm", image, "sh", "-c",
                   f"find /opt/venv /app \\( -name '*.ipynb' -o -name '*.whl' -o -name .git -o -name nbs {ours} "
                   "-o -type d \\( -name tests -o -name test \\) \\) -print; ls -d /src /wheels 2>/dev/null; true").stdout.split()
    assert found == [], found
    size = containers.own_layers_mb(image)
    report(f"image: the Dockerfile's own layers {size:.0f} MB (budget {OWN_LAYERS_BUDGET_MB} MB)")
    assert size <= OWN_LAYERS_BUDGET_MB, f"the Dockerfile's own layers weigh {size:.0f} MB"


def test_health_train_predict_and_hot_swap(project_image, scratch, report):
    image, port = project_image.tag, free_port()
    volume = podman("volume", "create", f"{scratch}-model").stdout.strip()
    api = f"{scratch}-api"
    podman("run", "-d", "--name", api, "--health-interval=disable", "-v", f"{volume}:/app/model",
           "-p", f"127.0.0.1:{port}:5000", image)
    url = f"http://127.0.0.1:{port}"
    assert wait_until(lambda: (r := reply(url + "/health/live")) is not None and r.status_code == 200, 60), podman("logs", api).stderr
    assert podman("healthcheck", "run", api, check=False).returncode != 0  # no model yet: unhealthy
    ready = reply(url + "/health/ready")
    assert ready.status_code == 503
    reason = json.dumps(ready.json())  # asserted last: what to run, in commands the image has (SPACESHIP_TRAIN_HINT)

    one_off_train(image, "-v", f"{volume}:/app/model", seed=1)
    healthy = wait_until(lambda: podman("healthcheck", "run", api, check=False).returncode == 0, 20)
    assert healthy, podman("logs", api).stderr[-2000:]
    first = predict(url)
    assert first["predictions"][0]["PassengerId"] == "0013_01" and 0 <= first["predictions"][0]["probability"] <= 1

    one_off_train(image, "-v", f"{volume}:/app/model", seed=2)  # a promotion while the API serves: no restart
    start = time.monotonic()
    swapped = wait_until(lambda: (r := predict(url))["model_version"] != first["model_version"] and r, 15, every=0.2)
    assert swapped, "the served model_version did not change after the second one-off train"
    report(f"image: hot swap served {time.monotonic() - start:.1f} s after the one-off train container ended")
    assert podman("container", "inspect", "--format", "{{.State.Running}}", api).stdout.strip() == "true"
    assert "spaceship-clf train" in reason or "compose run --rm train" in reason, f"the hint names a command the image lacks: {reason}"


def registry(folder: Path, port: int) -> subprocess.Popen:
    "Debian's docker-registry (a real OCI registry) on 127.0.0.1:`port`, storing in `folder`."
    folder.mkdir(parents=True, exist_ok=True); config = folder / "registry.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {folder}/data\n"
                      f"http:\n  addr: 127.0.0.1:{port}\nlog:\n  level: error\n")
    return subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def test_retrain_to_production(project_image, scratch, tmp_path):
    """The retrain workflow's sequence (.github/workflows/retrain.yml) with podman: a promoted store baked into an image,
    the fixed request answered by that version (.ci/serve-check), a promotion, the next image answers with the new
    version's answer while the old image still gives the old one, and the image pushed tagged with its model version."""
    store = tmp_path / "model"; store.mkdir(); shutil.chown(store, 10001, 10001)
    env = {**containers.env(), "DOCKER": "podman", "PYTHON": str(ROOT / ".venv/bin/python") if (ROOT / ".venv/bin/python").exists() else "python3"}
    images, answers = [], []
    for seed in (1, 2):  # the first model, then a promotion
        one_off_train(project_image.tag, "-v", f"{store}:/app/model", seed=seed)
        version = (store / "CURRENT").read_text().strip()
        tag = f"localhost/spaceship-clf:{scratch}-model-{version}"
        podman("build", "--format", "docker", "-f", str(project_image.clone / ".ci/model.Dockerfile"),
               "--build-arg", f"IMAGE={project_image.tag}", "-t", tag, str(store))
        images.append(tag)
        checked = subprocess.run([str(project_image.clone / ".ci/serve-check"), tag, str(store)], env=env,
                                 capture_output=True, text=True, timeout=300)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        answers.append(json.loads(checked.stdout.splitlines()[-1]))
        assert answers[-1]["model_version"] == version
    try:
        assert answers[0]["model_version"] != answers[1]["model_version"]
        assert answers[0]["probability"] != answers[1]["probability"]  # the same request, a different answer
        old = tmp_path / "old-store"; shutil.copytree(store, old)
        (old / "CURRENT").write_text(answers[0]["model_version"])  # the old image still answers as the old version
        again = subprocess.run([str(project_image.clone / ".ci/serve-check"), images[0], str(old)], env=env,
                               capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and json.loads(again.stdout.splitlines()[-1]) == answers[0], again.stdout + again.stderr

        need(shutil.which("docker-registry") is not None, "docker-registry is not installed (apt-get install docker-registry)")
        port = free_port(); server = registry(tmp_path / "registry", port)
        try:
            pushed = f"127.0.0.1:{port}/spaceship-clf:model-{answers[1]['model_version']}"
            assert wait_until(lambda: reply(f"http://127.0.0.1:{port}/v2/") is not None, 20)
            podman("push", "--tls-verify=false", images[1], pushed, timeout=900)
            tags = requests.get(f"http://127.0.0.1:{port}/v2/spaceship-clf/tags/list", timeout=10).json()["tags"]
            assert tags == [pushed.rsplit(":", 1)[1]]
        finally:
            server.terminate(); server.wait(timeout=10)
    finally:
        for tag in images: podman("rmi", "-f", tag, check=False)
