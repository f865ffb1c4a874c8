"""The README's set-up on a stock Debian 12 (what a fresh server has: the distribution's `python3`, `python3-venv`,
`git`, `ca-certificates`, and Python's EXTERNALLY-MANAGED marker, PEP 668, as shipped), in a podman container from a
clean clone: `git clone`, `bash .ci/install`, then `train` and `predict` on synthetic passengers. The set-up must not
touch the system Python (Poetry lives in a venv of its own). Prints the set-up time."""
import re

from conftest import ROOT, need
import containers
from containers import podman

SETUP = r"""
set -euo pipefail
git clone --quiet /src /root/spaceship-clf && cd /root/spaceship-clf
SECONDS=0
bash .ci/install
echo "SETUP_SECONDS=$SECONDS"
.venv/bin/python -c "from spaceship_clf.data import make_passengers as m; m(600, seed=1).to_csv('data/train.csv', index=False); m(200, seed=2, labelled=False).to_csv('data/test.csv', index=False)"
.venv/bin/python model.py train --dataset=data/train.csv --cv-folds=0 && .venv/bin/python model.py predict --dataset=data/test.csv
echo "RESULT_LINES=$(wc -l < data/results.csv)"
echo "HEADER=$(head -1 data/results.csv)"
test -f /usr/lib/python3.11/EXTERNALLY-MANAGED && echo "MARKER=kept"
python3 -c "import poetry" 2>/dev/null && echo "SYSTEM_POETRY=yes" || echo "SYSTEM_POETRY=no"
ls /usr/local/lib/python3*/dist-packages /root/.local/lib 2>/dev/null | grep -q . && echo "SYSTEM_SITE=touched" || echo "SYSTEM_SITE=clean"
"""


def test_readme_setup_on_stock_debian(tmp_path, report):
    need(containers.unusable() is None, f"podman cannot run here: {containers.unusable()}")
    image = containers.base(containers.STOCK_DEBIAN)
    clone = containers.clean_clone(ROOT, tmp_path / "spaceship-clf")
    done = podman("run", "--rm", *containers.tls_mounts(), *containers.TLS_ENV, "-v", f"{clone}:/src:ro", image,
                  "bash", "-c", SETUP, check=False, timeout=1500)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    found = dict(re.findall(r"^([A-Z_]+)=(.*)$", done.stdout, re.M))
    assert found["RESULT_LINES"] == "201" and found["HEADER"] == "PassengerId,Transported", out[-2000:]
    assert found["MARKER"] == "kept" and found["SYSTEM_POETRY"] == "no" and found["SYSTEM_SITE"] == "clean", found
    how = "poetry install" if "installed with poetry install" in out else "the pip fallback"
    report(f"stock Debian 12: .ci/install took {found['SETUP_SECONDS']} s from a clean clone ({how})")
