"""The notebooks as documents: the submission notebook run headless by papermill, and what every notebook's committed
outputs may contain."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from test_tune import clean_env

SUBMISSION = ROOT / "nbs" / "10_submission.ipynb"
NOTEBOOKS = sorted(p for p in (ROOT / "nbs").rglob("*.ipynb") if not p.name.startswith(("_", ".")))
# an absolute path of a machine: a root folder that holds homes, checkouts or temporary files, then more path
MACHINE_PATH = re.compile(r"(?<![\w.:/-])/(?:home|root|tmp|work|Users|var|opt|srv|mnt|private|builds|runner)/[\w.-]+")


def outputs_text(notebook: Path) -> str:
    "Everything the notebook's committed outputs show, as text."
    cells = json.loads(notebook.read_text())["cells"]
    parts = []
    for cell in cells:
        for out in cell.get("outputs", []):
            parts.append("".join(out.get("text", "")))
            for kind, value in out.get("data", {}).items():
                if kind.startswith("text/"): parts.append("".join(value))
    return "\n".join(parts)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "nbs")))
def test_committed_outputs_name_no_machine_path(notebook):
    found = MACHINE_PATH.findall(outputs_text(notebook))
    assert not found, f"{notebook.name} shows absolute paths of the machine that ran it: {sorted(set(found))[:5]}"


def test_the_committed_submission_answers_every_test_passenger():
    text = outputs_text(SUBMISSION)
    assert "data/results.csv: 4,277 answers for the 4,277 passengers of data/test.csv" in text, text[:2000]


def test_submission_notebook_writes_what_predict_writes(trained_home, tmp_path):
    "papermill runs the notebook on a project's test file; it writes the bytes `python model.py predict` writes."
    home = tmp_path / "home"
    subprocess.run(["cp", "-r", str(trained_home), str(home)], check=True)
    (home / "data" / "test.csv").write_bytes((home / "test.csv").read_bytes())
    out = tmp_path / "submission-out.ipynb"
    run = subprocess.run([sys.executable, "-m", "papermill", str(SUBMISSION), str(out), "-k", "python3", "--cwd", str(SUBMISSION.parent)],
                         env=clean_env(SPACESHIP_HOME=home, SPACESHIP_TRACKING="off"), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "data/results.csv: 300 answers for the 300 passengers of data/test.csv" in outputs_text(out)
    notebook_bytes = (home / "data" / "results.csv").read_bytes()
    cli = subprocess.run([sys.executable, str(ROOT / "model.py"), "predict", "--dataset=data/test.csv"], cwd=home,
                         env=clean_env(SPACESHIP_HOME=home, SPACESHIP_TRACKING="off"), capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert (home / "data" / "results.csv").read_bytes() == notebook_bytes
