"""A well-behaved client's single-passenger latency (p50/p99) while slow clients attack, directly against
`python flask_app.py` and through the compose stack's front (Debian's nginx with deploy/nginx.conf), on loopback.
For each target: no attack, then N connections trickling their headers one byte every 2 s, then N trickling their
bodies. Prints figures; passes or fails nothing (tests/test_front.py asserts the bounds).

    python bench/slow_clients.py                      # a small model trained on synthetic passengers in a temporary home
    python bench/slow_clients.py --seconds 20 --connections 50 --workers 2
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from conftest import ApiServer, free_port  # noqa: E402  the test suite's server helpers
from slow_clients import NGINX, Front, SlowClients, latencies, percentile  # noqa: E402


def trained_home(folder: Path) -> Path:
    "A home with a small model (600 synthetic passengers), trained by the CLI."
    from spaceship_clf.data import make_passengers
    make_passengers(600, seed=21).to_csv(folder / "train.csv", index=False)
    subprocess.run([sys.executable, "model.py", "train", f"--dataset={folder / 'train.csv'}", "--cv-folds=0"], cwd=ROOT, check=True,
                   capture_output=True, env={**os.environ, "SPACESHIP_HOME": str(folder), "SPACESHIP_TRACKING": "off"})
    return folder


def measure(url: str, seconds: float, attack: SlowClients | None) -> str:
    if attack: attack.start(); time.sleep(2)  # the attackers connected and trickling
    try:
        ms = latencies(url, seconds)
    finally:
        if attack: attack.stop()
    failed = sum(m == float("inf") for m in ms)
    return (f"p50 {percentile(ms, 50):7.1f} ms  p99 {percentile(ms, 99):7.1f} ms  ({len(ms)} requests, {failed} failed"
            + (f"; server closed {attack.closed} attackers)" if attack else ")"))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10, help="well-behaved client's run per case")
    p.add_argument("--connections", type=int, default=50, help="slow connections per attack (at most 60)")
    p.add_argument("--workers", type=int, default=2, help="API worker processes")
    args = p.parse_args()
    n = min(args.connections, 60)
    with tempfile.TemporaryDirectory() as tmp:
        home = trained_home(Path(tmp))
        port = free_port()
        api = ApiServer(home, [sys.executable, "flask_app.py", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)], port)
        front = None
        try:
            api.wait("/health/ready")
            targets = {"direct (python flask_app.py)": api.url}
            if NGINX:
                from spaceship_clf.core import get_settings
                front = Front(Path(tmp) / "front", f"127.0.0.1:{port}", free_port(), get_settings().serving.max_csv_bytes).wait()
                targets["through the front (nginx)"] = front.url
            else:
                print("nginx is not installed: direct only")
            for name, url in targets.items():
                print(f"\n{name}, {args.workers} workers")
                print(f"  no attack                  {measure(url, args.seconds, None)}")
                print(f"  {n} slow-header clients    {measure(url, args.seconds, SlowClients(url, n, kind='headers'))}")
                print(f"  {n} slow-body clients      {measure(url, args.seconds, SlowClients(url, n, kind='body'))}")
        finally:
            if front: front.stop()
            api.stop()


if __name__ == "__main__":
    main()
