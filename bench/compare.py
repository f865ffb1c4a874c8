"""The product against what a user would run instead, in one run on one machine, with the same CatBoost model file:

- one passenger per request over loopback (../shared/tools/loadgen.py, wrk): `python flask_app.py` (plain and
  `?explain=true`) against the anchor service (bench/anchors.py: Flask + pandas under gunicorn, 2 sync workers), at
  concurrency 1 (p50) and 8 (requests/s);
- a 2,000,000-row file: `python model.py predict` against the anchor batch script (pandas), rows/s and peak RSS;
- a 100,000-row CSV request to the product's API, rows/s.

Prints every figure and the ratios the speed issue asks for. Passes or fails nothing. The servers, the load and the
batch measurement are bench/serve.py's and bench/predict_big.py's.

    python bench/compare.py                       # about 4 minutes on 2 cores
    python bench/compare.py --duration 15 --rows 2000000
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from predict_big import bench_home, make_csv, run  # noqa: E402
from serve import ONE, Server, csv_request, load  # noqa: E402


def serving(env: dict, model: Path, csv: Path, duration: int) -> dict:
    "Both services, one passenger per request: c=1 and c=8; the product also explained, and a whole CSV file."
    figures = {}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as body:
        json.dump(ONE, body); body.flush()
        anchor = Server([sys.executable, "-m", "gunicorn", "-w", "2", "-k", "sync", "-b", "127.0.0.1:{port}", "--chdir", str(ROOT / "bench"),
                         "anchors:app"], {**env, "SPACESHIP_ANCHOR_MODEL": str(model)},
                        ready=lambda url: requests.post(url + "/predict", json=ONE, timeout=2).ok)
        try: figures["anchor"] = {c: load(anchor, c, duration, 3, body.name) for c in (1, 8)}
        finally: anchor.stop()
        product = Server.product(env=env)
        try:
            figures["product"] = {c: load(product, c, duration, 3, body.name) for c in (1, 8)}
            figures["explained"] = {1: load(product, 1, duration, 3, body.name, "/predict?explain=true")}
            figures["csv_request"] = csv_request(product, sum(1 for _ in open(csv)) - 1, data=csv.read_bytes())
        finally: product.stop()
    return figures


def batch(env: dict, data: Path, model: Path) -> dict:
    "rows/s and peak RSS of `model.py predict` and of the anchor script on the same file."
    rows = sum(1 for _ in open(data)) - 1
    product = run([sys.executable, str(ROOT / "model.py"), "predict", f"--dataset={data}"], env)
    anchor = run([sys.executable, str(ROOT / "bench" / "anchors.py"), str(data), str(Path(env["SPACESHIP_HOME"]) / "anchor-results.csv"),
                  str(model)], env)
    return {"rows": rows, "product": (rows / product[0], product[2]), "anchor": (rows / anchor[0], anchor[2])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=15, help="measured seconds per load run")
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--dir", type=Path, default=ROOT / "data" / "bench")
    a = ap.parse_args()
    home = a.dir.resolve()
    data, env = bench_home(home, a.rows)
    csv = home / "passengers-100000.csv"
    if not csv.exists(): make_csv(csv, 100_000)
    model = home / "model" / "versions" / (home / "model" / "CURRENT").read_text().strip() / "model.cbm"
    s = serving(env, model, csv, a.duration)
    b = batch(env, data, model)
    anchor, product, explained = s["anchor"], s["product"], s["explained"]
    print(f"one passenger, c=1 p50: product {product[1]['p50_ms']:.2f} ms, anchor {anchor[1]['p50_ms']:.2f} ms: "
          f"{anchor[1]['p50_ms'] / product[1]['p50_ms']:.1f}x lower (target 6.5x)")
    print(f"one passenger, c=8: product {product[8]['rps']:,.0f} req/s ({product[8]['errors']} errors), anchor {anchor[8]['rps']:,.0f} req/s: "
          f"{product[8]['rps'] / anchor[8]['rps']:.1f}x (target 6x)")
    print(f"explained passenger, c=1 p50: {explained[1]['p50_ms']:.2f} ms = {explained[1]['p50_ms'] / anchor[1]['p50_ms']:.2f} of the "
          "anchor's plain p50 (target <= 0.5)")
    print(f"{b['rows']:,} rows: product {b['product'][0]:,.0f} rows/s at {b['product'][1]:.0f} MiB, anchor {b['anchor'][0]:,.0f} rows/s at "
          f"{b['anchor'][1]:.0f} MiB: {b['product'][0] / b['anchor'][0]:.2f}x (target 1.5x, <= 512 MiB)")
    print(f"{s['csv_request']['rows']:,}-row CSV request ({s['csv_request']['mb']} MB): {s['csv_request']['rows_per_s']:,} rows/s")
    print(json.dumps({"serving": {k: {str(c): v for c, v in d.items()} for k, d in s.items() if k != "csv_request"},
                      "csv_request": s["csv_request"], "batch": b}))


if __name__ == "__main__":
    main()
