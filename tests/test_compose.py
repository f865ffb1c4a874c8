"""compose.yaml as a server runs it, with podman-compose (in a venv of its own) on a clean clone: only the front
publishes a port, `up --scale api=3` starts three replicas behind it and the front sends requests to every one, a one-off
`run --rm train` reaches every replica (shared model volume, each polls model/CURRENT), and Prometheus (Debian's, on the
same network, with monitoring/prometheus.yml) finds all three through DNS service discovery.

Images that cannot be pulled here are replaced by an override file this test writes: the project's image built by
the session, and Debian's nginx running the same deploy/nginx.conf template in place of the official nginx image."""
import re
import secrets
import subprocess

import pytest
import requests
import yaml

import containers
from conftest import ROOT, free_port, need, reply, wait_until
from containers import podman
from spaceship_clf.core import get_settings
from spaceship_clf.data import make_passengers

REPLICAS = 3


def test_compose_defaults_are_safe():
    "Only the front publishes a port; Grafana's password must come from the environment; the limits agree."
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    published = {name for name, s in services.items() if s.get("ports") and name not in {"prometheus", "grafana", "dashboard"}}
    assert published == {"front"} and "ports" not in services["api"]
    front = services["front"]["image"]
    assert front.startswith("nginx:") and not front.endswith((":latest", ":stable", ":mainline")), front  # pinned
    for name in ("prometheus", "grafana", "dashboard"):  # the side services listen on the host's loopback only
        assert all(p.startswith("127.0.0.1:") for p in services[name]["ports"]), name
    assert "build" in services["train"] and services["train"]["image"] == services["api"]["image"]
    password = services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?.+\}", password), password
    # one CSV limit for the API and the front: compose's default is the package's
    for name in ("api", "front"):
        limit = services[name]["environment"]["SPACESHIP_MAX_CSV_BYTES"]
        assert limit == f"${{SPACESHIP_MAX_CSV_BYTES:-{get_settings().serving.max_csv_bytes}}}", (name, limit)


class Compose:
    "podman-compose on `folder`'s compose.yaml plus an override, as project `name`."
    def __init__(self, folder, override: str, name: str):
        (folder / "compose.test.yaml").write_text(override)
        self.folder, self.name = folder, name
        self.env = {**containers.env(), "GRAFANA_ADMIN_PASSWORD": secrets.token_hex(8)}

    def __call__(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([containers.podman_compose(), "-f", "compose.yaml", "-f", "compose.test.yaml", "-p", self.name, *args],
                              cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0 or not check, f"podman-compose {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def containers(self, service: str) -> list[str]:
        return podman("ps", "--filter", f"label=com.docker.compose.project={self.name}",
                      "--filter", f"label=com.docker.compose.service={service}", "--format", "{{.Names}}").stdout.split()


def ip(container: str) -> str:
    return podman("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", container).stdout.split()[0]


def model_requests(metrics: str) -> float:
    "GET /model requests a replica answered, from its /metrics."
    return sum(float(line.split()[-1]) for line in metrics.splitlines()
               if line.startswith("spaceship_http_requests_total{") and 'endpoint="/model"' in line)


def up_targets(prometheus: str) -> set[str]:
    "Addresses of the API targets Prometheus discovered and scraped successfully."
    r = reply(prometheus + "/api/v1/targets")
    targets = r.json()["data"]["activeTargets"] if r is not None and r.status_code == 200 else []
    return {t["discoveredLabels"]["__address__"] for t in targets if t["labels"]["job"] == "spaceship-api" and t["health"] == "up"}


def served_versions(replicas: list[str]) -> set:
    "The model version each replica serves now (None: not ready), asked directly on its address."
    passenger = {"PassengerId": "0013_01", "CryoSleep": True}
    return {(r.json().get("model_version") if (r := reply(f"http://{ip(c)}:5000/predict", json=passenger)) is not None
             and r.status_code == 200 else None) for c in replicas}


@pytest.fixture
def stack(project_image, tmp_path):
    "The compose project on a clean clone, torn down with its volumes and network afterwards."
    need(containers.unusable() is None, f"podman cannot run here: {containers.unusable()}")
    front_image, prometheus_image = containers.base(containers.FRONT_STANDIN), containers.base(containers.PROMETHEUS_STANDIN)
    folder = containers.clean_clone(ROOT, tmp_path / "spaceship-clf")
    make_passengers(600, seed=1).to_csv(folder / "data" / "train.csv", index=False)
    port, prometheus_port = free_port(), free_port()
    override = f"""services:
  front:
    image: {front_image}
    ports: !override ["127.0.0.1:{port}:80"]
  prometheus:
    image: {prometheus_image}
    ports: !override ["127.0.0.1:{prometheus_port}:9090"]
  api:
    image: {project_image.tag}
  train:
    image: {project_image.tag}
"""
    compose = Compose(folder, override, f"spaceship-test-{secrets.token_hex(4)}")
    compose.url, compose.prometheus = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{prometheus_port}"
    try:
        yield compose
    finally:
        compose("--profile", "train", "down", "-v", timeout=300, check=False)
        # whatever podman-compose's down left: containers, volumes, the network (podman 4.3 filters no network by label)
        label = f"label=com.docker.compose.project={compose.name}"
        if left := podman("ps", "-aq", "--filter", label, check=False).stdout.split():
            podman("rm", "-f", "-v", *left, check=False)
        if left := podman("volume", "ls", "-q", "--filter", label, check=False).stdout.split():
            podman("volume", "rm", "-f", *left, check=False)
        podman("network", "rm", "-f", f"{compose.name}_default", check=False)


def test_scaled_behind_the_front_and_promotion_reaches_every_replica(stack):
    stack("up", "-d", "--scale", f"api={REPLICAS}", "api", "front", "prometheus")
    replicas = stack.containers("api")
    assert len(replicas) == REPLICAS, replicas
    assert wait_until(lambda: (r := reply(stack.url + "/health/live")) is not None and r.status_code == 200, 90), podman("logs", stack.containers("front")[0]).stderr
    assert served_versions(replicas) == {None}  # no model yet
    # monitoring/prometheus.yml's DNS service discovery finds every replica on compose's network
    scraped = wait_until(lambda: len(up_targets(stack.prometheus)) == REPLICAS and up_targets(stack.prometheus), 90, every=2)
    assert scraped == {f"{ip(c)}:5000" for c in replicas}, up_targets(stack.prometheus)

    stack("--profile", "train", "run", "--rm", "train", "spaceship-clf", "train", "--dataset=/input/train.csv", "--cv-folds=0")
    first = wait_until(lambda: (v := served_versions(replicas)) != {None} and len(v) == 1 and v, 20)
    assert first, f"not every replica serves the new model: {served_versions(replicas)}"

    # through the front, requests reach every replica (each counts what it answered in /metrics)
    for _ in range(60): requests.get(stack.url + "/model", timeout=5).raise_for_status()
    counted = {c: model_requests(reply(f"http://{ip(c)}:5000/metrics").text) for c in replicas}
    assert all(counted.values()), f"replicas the front never used: {counted}"

    stack("--profile", "train", "run", "--rm", "train", "spaceship-clf", "train", "--dataset=/input/train.csv", "--cv-folds=0")
    second = wait_until(lambda: (v := served_versions(replicas)) != first and len(v) == 1 and v, 20)
    assert second and second != first, f"a promotion did not reach every replica: {served_versions(replicas)}"
