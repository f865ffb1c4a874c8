"""Per-row CPU cost of the data path: reading a CSV, validating it, the numpy columns and the model input (`model_input`,
the one feature function), for 1 row (one API passenger), 1,000 rows and 100,000 rows. Prints figures; passes or fails nothing.

    python bench/features.py                 # best of 7 (1 and 1k rows: best of 7 loops of many calls)
    python bench/features.py --rows 1 1000 100000 --repeat 5

CPU time (`time.process_time`, best of several) because the machines this runs on are shared: wall time is noisy.
"""
import argparse
import tempfile
import time
from pathlib import Path

from spaceship_clf.data import make_passengers, model_input, passenger_columns, read_csv, validate_passengers


def best_cpu(fn, repeat: int, loops: int) -> float:
    "Best CPU seconds per call of `fn` over `repeat` timings of `loops` calls each."
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(loops): fn()
        best = min(best, (time.process_time() - start) / loops)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1, 1000, 100_000])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = max(args.rows)
        path = Path(tmp) / "passengers.csv"
        make_passengers(big, seed=0, labelled=False).to_csv(path, index=False)
        whole = read_csv(path)
        print(f"{'rows':>8} {'step':<16} {'per call':>12} {'per row':>12}")
        for n in args.rows:
            raw = whole.iloc[:n].copy()
            small = Path(tmp) / f"p{n}.csv"; raw.to_csv(small, index=False)
            frame = validate_passengers(raw)
            cols = passenger_columns(frame)
            loops = max(1, min(2000, 20_000 // n))
            steps = {
                "read_csv": lambda: read_csv(small),
                "validate": lambda: validate_passengers(raw),
                "columns": lambda: passenger_columns(frame),
                "model_input": lambda: model_input(cols),
            }
            total = 0.0
            for name, fn in steps.items():
                s = best_cpu(fn, args.repeat if n < big else max(3, args.repeat // 2), loops)
                total += s
                print(f"{n:>8} {name:<16} {s * 1e3:>9.3f} ms {s / n * 1e6:>9.2f} us")
            print(f"{n:>8} {'total':<16} {total * 1e3:>9.3f} ms {total / n * 1e6:>9.2f} us  "
                  f"({n / total:,.0f} rows/s of CPU)\n")


if __name__ == "__main__":
    main()
