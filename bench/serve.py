"""Serving figures: the in-process cost of one prediction (plain and explained), latency and throughput of the
production server over loopback (gunicorn gevent vs sync workers, concurrency 1 and 8, via ../shared/tools/loadgen.py
which drives wrk; at concurrency 1 also `POST /predict?explain=true`), and rows/s of a 100,000-row CSV request. Prints
figures; passes or fails nothing.

    python bench/serve.py                       # the current model in ./model (SPACESHIP_HOME / SPACESHIP_MODEL_DIR)
    python bench/serve.py --duration 20 --worker-classes sync
    python bench/serve.py --worker-classes sync --concurrency 1 --csv-rows 0    # single-passenger latency only
"""
import argparse
import io
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
LOADGEN = Path(os.environ.get("SPACESHIP_LOADGEN", ROOT.parent / "shared" / "tools" / "loadgen.py"))
ONE = {"PassengerId": "0013_01", "HomePlanet": "Earth", "CryoSleep": True, "Cabin": "G/3/S", "Destination": "TRAPPIST-1e",
       "Age": 27.0, "VIP": False, "RoomService": 0.0, "FoodCourt": 0.0, "ShoppingMall": 0.0, "Spa": 0.0, "VRDeck": 0.0,
       "Name": "Nelly Carsoning"}


def in_process(n: int = 3000) -> dict:
    "Median microseconds of the steps of one JSON prediction inside a worker, and of a whole request via the WSGI app."
    from spaceship_clf.data import read_json
    from spaceship_clf.serving import create_app
    app = create_app()
    serving = app.extensions["spaceship_clf"]
    bundle = serving.live.get()
    if bundle is None: sys.exit(f"no model: {serving.live.problem}")
    body, most = json.dumps(ONE).encode(), serving.settings.max_passengers
    from werkzeug.test import EnvironBuilder
    def wsgi_request(query: str = ""):  # the whole app (routing, validation, prediction, metrics, JSON reply) without any server
        environ = EnvironBuilder(path="/predict", method="POST", data=body, content_type="application/json",
                                 query_string=query).get_environ()
        def request():
            out = b"".join(app(dict(environ, **{"wsgi.input": io.BytesIO(body)}), lambda status, headers, exc_info=None: None))
            assert out.startswith(b'{"model_version"') and (b'"explanation"' in out) == bool(query), out
        return request
    def timed(f, runs_wanted: int = n):
        for _ in range(min(200, runs_wanted)): f()
        runs = []
        for _ in range(runs_wanted):
            t = time.perf_counter(); f(); runs.append(time.perf_counter() - t)
        return statistics.median(runs) * 1e6
    columns = read_json(body, most)[0]
    return {"read_json_us": timed(lambda: read_json(body, most)),
            "predict_us": timed(lambda: bundle.predict(columns, thread_count=1)),
            "explain_us": timed(lambda: bundle.explain(columns, thread_count=1), n // 3),
            "flask_request_us": timed(wsgi_request()),
            "flask_explained_request_us": timed(wsgi_request("explain=true"), n // 3),
            "model_version": bundle.version, "trees": bundle.model.tree_count_}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


class Server:
    "A server process on a free loopback port, in its own session, ready when `ready(url)` says so."
    def __init__(self, command: list[str], env: dict | None = None, ready=None):
        self.port = free_port(); self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="bench-serve-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([a.format(port=self.port) for a in command], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env={**os.environ, "SPACESHIP_LOG_LEVEL": "WARNING", **(env or {})})
        ready = ready or (lambda url: requests.get(url + "/health/ready", timeout=2).status_code == 200)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None: sys.exit(f"server exited: {Path(self.log.name).read_text()}")
            try:
                if ready(self.url): return
            except (requests.ConnectionError, requests.Timeout): pass
            time.sleep(0.3)
        self.stop(); sys.exit("server not ready within 90 s")

    @classmethod
    def product(cls, worker_class: str = "gevent", workers: int = 2, env: dict | None = None) -> "Server":
        "`python flask_app.py` with these workers."
        return cls([sys.executable, "flask_app.py", "--host", "127.0.0.1", "--port", "{port}", "--workers", str(workers),
                    "--worker-class", worker_class], env)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try: self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired: os.killpg(self.proc.pid, signal.SIGKILL); self.proc.wait(timeout=10)
        Path(self.log.name).unlink(missing_ok=True)


def load(server: Server, concurrency: int, duration: int, warmup: int, body_file: str, path: str = "/predict") -> dict:
    out = subprocess.run([sys.executable, str(LOADGEN), "--url", server.url + path, "--body", body_file,
                          "--concurrency", str(concurrency), "--duration", str(duration), "--warmup", str(warmup),
                          "--server-pid", str(server.proc.pid), "--max-requests", "2000000"],
                         capture_output=True, text=True, timeout=duration + warmup + 120)
    m = re.search(r"RESULT rps=([\d.]+) p50_ms=([\d.]+) p99_ms=([\d.]+) errors=(\d+)", out.stdout)
    if not m: sys.exit(f"loadgen failed:\n{out.stdout}\n{out.stderr}")
    cpu = re.search(r"server cpu .*= (\d+)% of one core", out.stdout)
    return {"rps": float(m[1]), "p50_ms": float(m[2]), "p99_ms": float(m[3]), "errors": int(m[4]),
            "server_cpu_pct": int(cpu[1]) if cpu else None, "engine": out.stdout.splitlines()[0].removeprefix("engine: ")}


def csv_request(server: Server, rows: int, repeats: int = 3, data: bytes | None = None) -> dict:
    "The best of a few whole-file CSV requests (`rows` synthetic passengers, or `data`), each answer checked."
    from spaceship_clf.data import make_passengers
    data = data or make_passengers(rows, seed=1, labelled=False).to_csv(index=False).encode()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        r = requests.post(server.url + "/predict", data=data, headers={"Content-Type": "text/csv"}, timeout=600)
        times.append(time.perf_counter() - t)
        assert r.status_code == 200 and r.text.count("\n") == rows + 1, (r.status_code, r.text[:300])
    best = min(times)
    return {"rows": rows, "mb": round(len(data) / 1e6, 1), "seconds": round(best, 3), "rows_per_s": round(rows / best)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=10, help="measured seconds per load run (default 10)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker-classes", default="gevent,sync")
    ap.add_argument("--concurrency", default="1,8", help="connections of each load run (default 1,8)")
    ap.add_argument("--csv-rows", type=int, default=100_000, help="rows of the CSV request (0 skips it)")
    a = ap.parse_args()

    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (a shared machine: expect noise)")
    cost = in_process()
    print(f"model version {cost['model_version']} ({cost['trees']} trees)")
    print(f"in-process, one passenger (median): read_json (validation + columns) {cost['read_json_us']:.0f} us + "
          f"features & CatBoost {cost['predict_us']:.0f} us; whole request through the WSGI app {cost['flask_request_us']:.0f} us")
    print(f"in-process, explained: ModelBundle.explain {cost['explain_us']:.0f} us; whole request with ?explain=true "
          f"{cost['flask_explained_request_us']:.0f} us")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(ONE, f); body_file = f.name
    results = {}
    try:
        for wc in a.worker_classes.split(","):
            server = Server.product(wc, a.workers)
            try:
                for c in map(int, a.concurrency.split(",")):
                    for path in ("/predict", "/predict?explain=true") if c == 1 else ("/predict",):
                        r = results[(wc, c, path)] = load(server, c, a.duration, a.warmup, body_file, path)
                        print(f"{wc:8s} x{a.workers} workers  c={c}  {path:22s}  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  "
                              f"{r['rps']:.0f} req/s  errors {r['errors']}  server cpu {r['server_cpu_pct']}%  ({r['engine']})", flush=True)
                if wc == a.worker_classes.split(",")[0] and a.csv_rows:
                    csv = csv_request(server, a.csv_rows)
                    print(f"{wc:8s} CSV request: {csv['rows']} rows ({csv['mb']} MB) in {csv['seconds']} s = {csv['rows_per_s']} rows/s", flush=True)
            finally:
                server.stop()
    finally:
        os.unlink(body_file)
    if first := results.get((a.worker_classes.split(",")[0], 1, "/predict")):
        print(f"HTTP + server overhead at c=1: {first['p50_ms'] * 1000 - cost['predict_us'] - cost['read_json_us']:.0f} us "
              f"of {first['p50_ms'] * 1000:.0f} us p50")
    if explained := results.get((a.worker_classes.split(",")[0], 1, "/predict?explain=true")):
        print(f"explanation cost at c=1: p50 {explained['p50_ms']:.2f} ms explained vs {first['p50_ms']:.2f} ms plain "
              "(bench/compare.py sets them against the anchors)")


if __name__ == "__main__":
    main()
