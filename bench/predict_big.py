"""Batch prediction on a big file: `python model.py predict` on a 2,000,000-row synthetic CSV, as a subprocess.
Prints wall seconds, rows/s, CPU seconds and the peak RSS of that process. Passes or fails nothing.

    python bench/predict_big.py                     # 2,000,000 rows under data/bench (kept for reruns)
    python bench/predict_big.py --rows 500000 --dir /tmp/spaceship-bench

The CSV is generated once with `make_passengers` (ids with more than 4 group digits are valid) and reused. A small
model is trained in --dir (its SPACESHIP_HOME) the first time, or again when the saved one is from an older format.
Peak RSS is the child's own `ru_maxrss` (`os.wait4`).
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_csv(path: Path, rows: int, block: int = 250_000):
    "Write `rows` synthetic unlabelled passengers in blocks (bounded memory), groups numbered across blocks."
    from spaceship_clf.data import ID, make_passengers
    tmp = path.with_suffix(".part")
    with open(tmp, "w", newline="") as out:
        for start in range(0, rows, block):
            n = min(block, rows - start)
            frame = make_passengers(n, seed=start // block, labelled=False)
            group, pos = frame[ID].str.split("_", expand=True).to_numpy().T
            frame[ID] = [f"{int(g) + start:07d}_{p}" for g, p in zip(group, pos)]  # unique over the whole file
            frame.to_csv(out, header=start == 0, index=False)
    os.replace(tmp, path)


def run(cmd: list, env: dict) -> tuple[float, float, float]:
    "Wall seconds, CPU seconds and peak RSS (MiB) of one child process (its own, `wait4`)."
    start = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=env["SPACESHIP_HOME"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status:
        sys.exit(f"{' '.join(cmd)} failed ({status}):\n{child.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def bench_home(home: Path, rows: int) -> tuple[Path, dict]:
    "The `rows`-row CSV under `home` (made once) and the environment of a project there with a usable model (trained once)."
    home.mkdir(parents=True, exist_ok=True)
    data = home / f"passengers-{rows}.csv"
    if not data.exists():
        start = time.perf_counter(); make_csv(data, rows)
        print(f"generated {data} ({data.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - start:.0f}s")
    env = {**os.environ, "SPACESHIP_HOME": str(home), "SPACESHIP_TRACKING": "off"}
    if not usable_model(home / "model"):
        from spaceship_clf.data import make_passengers
        train = home / "train.csv"; make_passengers(3000, seed=42).to_csv(train, index=False)
        subprocess.run([sys.executable, str(ROOT / "model.py"), "train", f"--dataset={train}", "--cv-folds=0"], cwd=home, env=env,
                       check=True, capture_output=True)
        print(f"trained a model in {home / 'model'}")
    return data, env


def usable_model(model_dir: Path) -> bool:
    from spaceship_clf.core import SpaceshipError
    from spaceship_clf.store import load_model
    try: return bool(load_model(model_dir))
    except SpaceshipError: return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--dir", type=Path, default=ROOT / "data" / "bench")
    ap.add_argument("--repeat", type=int, default=1, help="predict runs (each reported)")
    args = ap.parse_args()
    home = args.dir.resolve()
    data, env = bench_home(home, args.rows)
    model = [sys.executable, str(ROOT / "model.py")]
    for _ in range(args.repeat):
        wall, cpu, rss = run(model + ["predict", f"--dataset={data}"], env)
        results = home / "data" / "results.csv"
        lines = sum(1 for _ in open(results)) - 1
        assert lines == args.rows, f"{results} has {lines} rows, expected {args.rows}"
        print(f"predict {args.rows:,} rows: {wall:.1f}s wall, {args.rows / wall:,.0f} rows/s, "
              f"{cpu:.1f}s CPU, peak RSS {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
