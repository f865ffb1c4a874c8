"""Serving figures: the in-process cost of one prediction, latency and throughput of the production server over
loopback (gunicorn sync vs gthread workers, concurrency 1 and 8, via ../shared/tools/loadgen.py which drives wrk), and
rows/s of a 100,000-row CSV request. Prints figures; passes or fails nothing.

    python bench/serve.py                       # the current model in ./model (SPACESHIP_HOME / SPACESHIP_MODEL_DIR)
    python bench/serve.py --duration 20 --worker-classes sync
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
    environ = EnvironBuilder(path="/predict", method="POST", data=body, content_type="application/json").get_environ()
    def wsgi_request():  # the whole app (routing, validation, prediction, metrics, JSON reply) without any server
        out = b"".join(app(dict(environ, **{"wsgi.input": io.BytesIO(body)}), lambda status, headers, exc_info=None: None))
        assert out.startswith(b'{"model_version"'), out
    def timed(f):
        for _ in range(200): f()
        runs = []
        for _ in range(n):
            t = time.perf_counter(); f(); runs.append(time.perf_counter() - t)
        return statistics.median(runs) * 1e6
    columns = read_json(body, most)[0]
    return {"read_json_us": timed(lambda: read_json(body, most)),
            "predict_us": timed(lambda: bundle.predict(columns, thread_count=1)),
            "flask_request_us": timed(wsgi_request),
            "model_version": bundle.version}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


class Server:
    def __init__(self, worker_class: str, workers: int):
        self.port = free_port(); self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="bench-serve-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([sys.executable, "flask_app.py", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--workers", str(workers), "--worker-class", worker_class],
                                     cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
                                     env={**os.environ, "SPACESHIP_LOG_LEVEL": "WARNING"})
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None: sys.exit(f"server exited: {Path(self.log.name).read_text()}")
            try:
                if requests.get(self.url + "/health/ready", timeout=2).status_code == 200: return
            except (requests.ConnectionError, requests.Timeout): pass
            time.sleep(0.3)
        self.stop(); sys.exit("server not ready within 90 s")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try: self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired: os.killpg(self.proc.pid, signal.SIGKILL); self.proc.wait(timeout=10)
        Path(self.log.name).unlink(missing_ok=True)


def load(server: Server, concurrency: int, duration: int, warmup: int, body_file: str) -> dict:
    out = subprocess.run([sys.executable, str(LOADGEN), "--url", server.url + "/predict", "--body", body_file,
                          "--concurrency", str(concurrency), "--duration", str(duration), "--warmup", str(warmup),
                          "--server-pid", str(server.proc.pid), "--max-requests", "2000000"],
                         capture_output=True, text=True, timeout=duration + warmup + 120)
    m = re.search(r"RESULT rps=([\d.]+) p50_ms=([\d.]+) p99_ms=([\d.]+) errors=(\d+)", out.stdout)
    if not m: sys.exit(f"loadgen failed:\n{out.stdout}\n{out.stderr}")
    cpu = re.search(r"server cpu .*= (\d+)% of one core", out.stdout)
    return {"rps": float(m[1]), "p50_ms": float(m[2]), "p99_ms": float(m[3]), "errors": int(m[4]),
            "server_cpu_pct": int(cpu[1]) if cpu else None, "engine": out.stdout.splitlines()[0].removeprefix("engine: ")}


def csv_request(server: Server, rows: int, repeats: int = 3) -> dict:
    from spaceship_clf.data import make_passengers
    data = make_passengers(rows, seed=1, labelled=False).to_csv(index=False).encode()
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
    ap.add_argument("--worker-classes", default="sync,gthread")
    ap.add_argument("--csv-rows", type=int, default=100_000)
    a = ap.parse_args()

    cost = in_process()
    print(f"model version {cost['model_version']}")
    print(f"in-process, one passenger (median): read_json (validation + columns) {cost['read_json_us']:.0f} us + "
          f"features & CatBoost {cost['predict_us']:.0f} us; whole request through the WSGI app {cost['flask_request_us']:.0f} us")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(ONE, f); body_file = f.name
    results = {}
    try:
        for wc in a.worker_classes.split(","):
            server = Server(wc, a.workers)
            try:
                for c in (1, 8):
                    r = results[(wc, c)] = load(server, c, a.duration, a.warmup, body_file)
                    print(f"{wc:8s} x{a.workers} workers  c={c}:  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  "
                          f"{r['rps']:.0f} req/s  errors {r['errors']}  server cpu {r['server_cpu_pct']}%  ({r['engine']})", flush=True)
                if wc == a.worker_classes.split(",")[0]:
                    csv = csv_request(server, a.csv_rows)
                    print(f"{wc:8s} CSV request: {csv['rows']} rows ({csv['mb']} MB) in {csv['seconds']} s = {csv['rows_per_s']} rows/s", flush=True)
            finally:
                server.stop()
    finally:
        os.unlink(body_file)
    first = results[(a.worker_classes.split(",")[0], 1)]
    print(f"HTTP + server overhead at c=1: {first['p50_ms'] * 1000 - cost['predict_us'] - cost['read_json_us']:.0f} us "
          f"of {first['p50_ms'] * 1000:.0f} us p50")


if __name__ == "__main__":
    main()
