"""The product against what a user would run instead, in one run on one machine, with the same CatBoost model file:

- one passenger per request over loopback (../shared/tools/loadgen.py, wrk): `python flask_app.py` (plain and
  `?explain=true`) against the anchor service (bench/anchors.py: Flask + pandas under gunicorn, 2 sync workers), at
  concurrency 1 (p50) and 8 (requests/s);
- a 2,000,000-row file: `python model.py predict` against the anchor batch script (pandas), rows/s and peak RSS;
- a 100,000-row CSV request to the product's API, rows/s.

Prints every figure and the ratios the speed issue asks for. Passes or fails nothing.

    python bench/compare.py                       # about 4 minutes on 2 cores
    python bench/compare.py --duration 15 --rows 2000000
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
LOADGEN = ROOT.parent / "shared" / "tools" / "loadgen.py"
PASSENGER = {"PassengerId": "0013_01", "HomePlanet": "Earth", "CryoSleep": True, "Cabin": "G/3/S", "Destination": "TRAPPIST-1e",
             "Age": 27, "VIP": False, "RoomService": 0, "FoodCourt": 0, "ShoppingMall": 0, "Spa": 0, "VRDeck": 0, "Name": "Nelly Carsoning"}
sys.path.insert(0, str(ROOT / "bench"))
from predict_big import make_csv, usable_model  # noqa: E402  (the 2M-row file and its model, shared with predict_big.py)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def start(command: list[str], env: dict, url: str) -> subprocess.Popen:
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.post(url, json=PASSENGER, timeout=2).status_code == 200: return process
        except requests.RequestException: pass
        time.sleep(0.3)
    process.kill(); sys.exit(f"{' '.join(command)} did not answer at {url}")


def stop(process: subprocess.Popen):
    os.killpg(process.pid, 15); process.wait(timeout=30)


def load(url: str, concurrency: int, duration: float, pid: int) -> dict:
    "loadgen's RESULT line as numbers."
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as body: json.dump(PASSENGER, body)
    out = subprocess.run([sys.executable, str(LOADGEN), "--url", url, "--body", body.name, "--concurrency", str(concurrency),
                          "--duration", str(duration), "--warmup", "3", "--server-pid", str(pid)], capture_output=True, text=True, timeout=300)
    found = re.search(r"RESULT rps=(\S+) p50_ms=(\S+) p99_ms=(\S+) errors=(\S+)", out.stdout)
    if not found: sys.exit(f"loadgen failed: {out.stdout[-1000:]} {out.stderr[-1000:]}")
    return dict(zip(("rps", "p50", "p99", "errors"), map(float, found.groups())))


def peak(command: list[str], env: dict) -> tuple[float, float]:
    "(wall seconds, peak RSS MiB) of one process."
    start_time = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=env.get("SPACESHIP_HOME", ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    if status: sys.exit(f"{' '.join(command)} failed: {process.stderr.read().decode()[-2000:]}")
    return time.perf_counter() - start_time, usage.ru_maxrss / 1024


def csv_request(url: str, path: Path, rounds: int = 3) -> float:
    "Rows per second of the best of a few whole-file CSV requests (the answer is the file to submit)."
    body, rows, best = path.read_bytes(), sum(1 for _ in open(path)) - 1, float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        answer = requests.post(url, data=body, headers={"Content-Type": "text/csv"}, timeout=300)
        if not answer.ok or answer.text.count("\n") != rows + 1: sys.exit(f"the CSV request failed: {answer.status_code} {answer.text[:500]}")
        best = min(best, time.perf_counter() - started)
    return rows / best


def serving(home: Path, model: Path, duration: float) -> dict:
    "Both services, one passenger per request: c=1 and c=8, plain and explained."
    figures, env = {}, {**os.environ, "SPACESHIP_HOME": str(home), "SPACESHIP_TRACKING": "off"}
    port = free_port(); url = f"http://127.0.0.1:{port}/predict"
    anchor = start([sys.executable, "-m", "gunicorn", "-w", "2", "-k", "sync", "-b", f"127.0.0.1:{port}", "--chdir", str(ROOT / "bench"),
                    "anchors:app"], {**env, "SPACESHIP_ANCHOR_MODEL": str(model)}, url)
    try: figures["anchor"] = {c: load(url, c, duration, anchor.pid) for c in (1, 8)}
    finally: stop(anchor)
    port = free_port(); url = f"http://127.0.0.1:{port}/predict"
    product = start([sys.executable, "flask_app.py", "--port", str(port)], env, url)
    try:
        figures["product"] = {c: load(url, c, duration, product.pid) for c in (1, 8)}
        figures["explained"] = {1: load(url + "?explain=true", 1, duration, product.pid)}
        figures["csv_request_rows_per_s"] = csv_request(url, home / "passengers-100000.csv")
    finally: stop(product)
    return figures


def batch(home: Path, data: Path, model: Path) -> dict:
    env = {**os.environ, "SPACESHIP_HOME": str(home), "SPACESHIP_TRACKING": "off"}
    rows = sum(1 for _ in open(data)) - 1
    product = peak([sys.executable, str(ROOT / "model.py"), "predict", f"--dataset={data}"], env)
    anchor = peak([sys.executable, str(ROOT / "bench" / "anchors.py"), str(data), str(home / "anchor-results.csv"), str(model)], env)
    return {"rows": rows, "product": (rows / product[0], product[1]), "anchor": (rows / anchor[0], anchor[1])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=15)
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--dir", type=Path, default=ROOT / "data" / "bench")
    a = ap.parse_args()
    home = a.dir.resolve(); home.mkdir(parents=True, exist_ok=True)
    data = home / f"passengers-{a.rows}.csv"
    if not data.exists(): make_csv(data, a.rows)
    if not (home / "passengers-100000.csv").exists(): make_csv(home / "passengers-100000.csv", 100_000)
    env = {**os.environ, "SPACESHIP_HOME": str(home), "SPACESHIP_TRACKING": "off"}
    if not usable_model(home / "model"):
        from spaceship_clf.data import make_passengers
        make_passengers(3000, seed=42).to_csv(home / "train.csv", index=False)
        subprocess.run([sys.executable, str(ROOT / "model.py"), "train", f"--dataset={home / 'train.csv'}", "--cv-folds=0"], env=env, check=True)
    model = home / "model" / "versions" / (home / "model" / "CURRENT").read_text().strip() / "model.cbm"
    s = serving(home, model, a.duration)
    b = batch(home, data, model)
    anchor, product, explained = s["anchor"], s["product"], s["explained"]
    print(f"one passenger, c=1 p50: product {product[1]['p50']:.2f} ms, anchor {anchor[1]['p50']:.2f} ms: "
          f"{anchor[1]['p50'] / product[1]['p50']:.1f}x lower (target 6.5x)")
    print(f"one passenger, c=8: product {product[8]['rps']:,.0f} req/s ({product[8]['errors']:.0f} errors), anchor {anchor[8]['rps']:,.0f} req/s: "
          f"{product[8]['rps'] / anchor[8]['rps']:.1f}x (target 6x)")
    print(f"explained passenger, c=1 p50: {explained[1]['p50']:.2f} ms = {explained[1]['p50'] / anchor[1]['p50']:.2f} of the anchor's plain p50 (target <= 0.5)")
    print(f"{b['rows']:,} rows: product {b['product'][0]:,.0f} rows/s at {b['product'][1]:.0f} MiB, anchor {b['anchor'][0]:,.0f} rows/s at "
          f"{b['anchor'][1]:.0f} MiB: {b['product'][0] / b['anchor'][0]:.2f}x (target 1.5x, <= 512 MiB)")
    print(f"100,000-row CSV request: {s['csv_request_rows_per_s']:,.0f} rows/s")
    print(json.dumps({"serving": {k: {str(c): v for c, v in d.items()} for k, d in s.items() if isinstance(d, dict)}, "batch": b}))


if __name__ == "__main__":
    main()
