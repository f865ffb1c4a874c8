"""The cost of monitoring: how fast `/metrics` answers from the production server (gunicorn, every worker's values added
up from the multiprocess folder) after some traffic, and what the model metrics add to one answered request inside a
worker (`Metrics.observe_batch` for one passenger, and per row for a 200,000-row CSV chunk). Prints figures; passes or
fails nothing. Target (issue #12): `/metrics` in <= 5 ms with two workers.

    python bench/metrics.py                      # the current model in ./model (SPACESHIP_HOME / SPACESHIP_MODEL_DIR)
    python bench/metrics.py --workers 4 --scrapes 2000
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def start_server(workers: int, worker_class: str) -> tuple[subprocess.Popen, str, Path]:
    port = free_port(); url = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkstemp(prefix="bench-metrics-", suffix=".log")[1])
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "flask_app.py", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                                 "--worker-class", worker_class], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "SPACESHIP_LOG_LEVEL": "WARNING"})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # ready, and every worker has a model
        if proc.poll() is not None: sys.exit(f"server exited:\n{log.read_text()}")
        try:
            text = requests.get(url + "/metrics", timeout=2).text
            if sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith("spaceship_workers_ready ")) >= workers:
                return proc, url, log
        except (requests.ConnectionError, requests.Timeout): pass
        time.sleep(0.3)
    stop(proc); sys.exit(f"server not ready within 90 s:\n{log.read_text()}")


def stop(proc: subprocess.Popen):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try: proc.wait(timeout=20)
        except subprocess.TimeoutExpired: os.killpg(proc.pid, signal.SIGKILL); proc.wait(timeout=10)


def traffic(url: str, passengers: int = 600):
    "Bounded traffic so that every series exists: groups of passengers with missing and unseen values, a few mistakes."
    from spaceship_clf.data import make_passengers
    frame = make_passengers(passengers, seed=3, labelled=False, missing_rate=0.05).astype(object)
    rows = [{k: (None if v is None or v != v else (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
            for r in frame.to_dict("records")]
    rows[0]["HomePlanet"] = "Pluto"
    with requests.Session() as s:
        for i in range(0, len(rows), 3):
            assert s.post(url + "/predict", json=rows[i:i + 3], timeout=10).status_code == 200
        s.post(url + "/predict", data=b"{", headers={"Content-Type": "application/json"}, timeout=10)
        s.get(url + "/nowhere", timeout=10); s.get(url + "/health/ready", timeout=10)


def scrape_latency(url: str, scrapes: int) -> dict:
    times, size = [], 0
    with requests.Session() as s:
        for _ in range(20): s.get(url + "/metrics", timeout=10)
        for _ in range(scrapes):
            t = time.perf_counter()
            r = s.get(url + "/metrics", timeout=10)
            times.append(time.perf_counter() - t)
            size = len(r.content)
    series = sum(1 for l in r.text.splitlines() if l and not l.startswith("#"))
    q = statistics.quantiles(times, n=100)
    return {"p50_ms": q[49] * 1e3, "p90_ms": q[89] * 1e3, "p99_ms": q[98] * 1e3, "max_ms": max(times) * 1e3, "bytes": size, "series": series}


def in_process() -> dict:
    "Microseconds of `observe_batch` in multiprocess mode: one passenger, and per row of a 200,000-row chunk."
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder = tempfile.mkdtemp(prefix="bench-metrics-")
    from spaceship_clf.data import make_passengers, passenger_columns, read_json, validate_passengers
    from spaceship_clf.serving.metrics import Metrics, collect
    from spaceship_clf.store import current_version, load_model
    from spaceship_clf.core import get_settings
    model_dir = get_settings().model_dir
    bundle = load_model(model_dir, current_version(model_dir))
    m = Metrics(Path(folder)); m.model_loaded(bundle)
    one = {"PassengerId": "0013_01", "HomePlanet": "Earth", "CryoSleep": True, "Cabin": "G/3/S", "Destination": "TRAPPIST-1e",
           "Age": 27.0, "VIP": False, "RoomService": 0.0, "FoodCourt": 0.0, "ShoppingMall": 0.0, "Spa": 0.0, "VRDeck": 0.0}
    columns = read_json(json.dumps(one).encode())[0]
    proba, transported = bundle.predict(columns, thread_count=1)
    def best(f, number): return min(timeit.repeat(f, number=number, repeat=5)) / number * 1e6
    big = passenger_columns(validate_passengers(make_passengers(200_000, seed=1, labelled=False)))
    p = np.random.default_rng(0).random(200_000)
    return {"count_predictions_us": best(lambda: m.count_predictions(transported), 2000),
            "observe_batch_one_us": best(lambda: m.observe_batch(columns, proba, transported), 2000),
            "predict_one_us": best(lambda: bundle.predict(columns, thread_count=1), 300),
            "observe_batch_row_ns": best(lambda: m.observe_batch(big, p, p > 0.5), 1) * 1e3 / 200_000,
            "collect_ms": best(lambda: collect(Path(folder)), 200) / 1e3}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker-classes", default="sync,gthread")
    ap.add_argument("--scrapes", type=int, default=1000, help="GET /metrics this many times, one after the other")
    a = ap.parse_args()
    cost = in_process()
    print(f"in-process: observe_batch, one passenger {cost['observe_batch_one_us']:.1f} us (count_predictions alone "
          f"{cost['count_predictions_us']:.1f} us; the prediction itself {cost['predict_one_us']:.0f} us); "
          f"a 200,000-row chunk {cost['observe_batch_row_ns']:.0f} ns/row; collecting one worker's files {cost['collect_ms']:.2f} ms")
    for wc in a.worker_classes.split(","):
        proc, url, log = start_server(a.workers, wc)
        try:
            traffic(url)
            r = scrape_latency(url, a.scrapes)
            print(f"GET /metrics, {wc} x{a.workers} workers, {a.scrapes} scrapes: p50 {r['p50_ms']:.2f} ms  p90 {r['p90_ms']:.2f} ms  "
                  f"p99 {r['p99_ms']:.2f} ms  max {r['max_ms']:.2f} ms  ({r['series']} series, {r['bytes']} bytes)", flush=True)
        finally:
            stop(proc); log.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
