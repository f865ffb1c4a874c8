"""What experiment tracking adds to `python model.py train`: the same training (`--cv-folds=0`, the shipped parameters)
with SPACESHIP_TRACKING=off and with the default offline ClearML session, in turn, each in a fresh project folder.
Prints wall seconds per run, the median overhead, and how long the background recorder took to finish its session.

    python bench/tracking.py                      # 3 rounds on data/train.csv (synthetic passengers if it is absent)
    python bench/tracking.py --rounds 5 --data PATH
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDED = "ClearML: recorded training"


def train(home: Path, data: Path, tracking: str) -> tuple[float, float | None]:
    "(seconds until `train` returned, seconds until its background recording finished, or None when off)."
    env = {**os.environ, "SPACESHIP_HOME": str(home), "SPACESHIP_TRACKING": tracking}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "model.py"), "train", f"--dataset={data}", "--cv-folds=0"], env=env,
                          capture_output=True, text=True, timeout=600)
    returned = time.perf_counter() - start
    if done.returncode != 0: sys.exit(f"train failed: {done.stderr}")
    if tracking == "off": return returned, None
    deadline = time.monotonic() + 300
    while RECORDED not in (home / "data" / "log_file.log").read_text():
        if time.monotonic() > deadline: sys.exit("the recording did not finish within 300 s")
        time.sleep(0.2)
    return returned, time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "train.csv")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = a.data
        if not data.exists():
            sys.path.insert(0, str(ROOT))
            from spaceship_clf.data import make_passengers
            data = Path(tmp) / "train.csv"; make_passengers(7000, seed=0).to_csv(data, index=False)
        times = {"off": [], "offline": []}
        recorded = []
        for r in range(a.rounds):
            for tracking in ("off", "offline"):
                home = Path(tmp) / f"{tracking}-{r}"; (home / "data").mkdir(parents=True)
                returned, finished = train(home, data, tracking)
                times[tracking].append(returned)
                if finished: recorded.append(finished)
                print(f"round {r + 1}: tracking {tracking:<8} train returned after {returned:5.2f} s"
                      + (f", session complete after {finished:5.2f} s" if finished else ""), flush=True)
                shutil.rmtree(home)
    off, on = statistics.median(times["off"]), statistics.median(times["offline"])
    print(f"\nmedian over {a.rounds} rounds: off {off:.2f} s, offline {on:.2f} s: tracking adds {on - off:+.2f} s to train "
          f"(the session itself is written in the background, complete {statistics.median(recorded):.1f} s after the start)")


if __name__ == "__main__":
    main()
