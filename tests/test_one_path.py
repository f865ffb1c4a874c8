"""One path for data: a passenger gets the same answer — class and probability — whether test.csv is sent whole to the
API as CSV, sent shuffled, sent as one JSON request per travel group, or predicted by the command line's
`My_Classifier_Model.predict`. Checked on the synthetic `trained_home` and, when `../shared/data/spaceship-titanic/`
exists, on Kaggle's real files with a small model trained on the real train.csv."""
import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT
from spaceship_clf.classifier import My_Classifier_Model
from spaceship_clf.core import ServingSettings
from spaceship_clf.data import ID, NUMBER_COLUMNS, TARGET, passenger_columns, read_passengers, travel_group
from spaceship_clf.serving import create_app
from spaceship_clf.store import current_version

REAL = ROOT.parent / "shared" / "data" / "spaceship-titanic"


@pytest.fixture(scope="module", params=["synthetic", "real"])
def case(request, tmp_path_factory) -> tuple[Path, Path]:
    "(model store, test CSV): the synthetic home, or a small model trained on the real train.csv in a scratch home."
    if request.param == "synthetic":
        home = request.getfixturevalue("trained_home")
        return home / "model", home / "test.csv"
    if not ((REAL / "train.csv").is_file() and (REAL / "test.csv").is_file()):
        pytest.skip(f"Kaggle's files are not in {REAL}")
    home = tmp_path_factory.mktemp("real_home")
    My_Classifier_Model(model_dir=home / "model", results_file=home / "results.csv").train(
        REAL / "train.csv", cv_folds=0, params=dict(iterations=100, random_seed=0), track=False)
    return home / "model", REAL / "test.csv"


@pytest.fixture(scope="module")
def client(case):
    return create_app(case[0], ServingSettings(model_poll_seconds=3600)).test_client()


def csv_answers(client, data: bytes, version: str) -> dict:
    "PassengerId -> (Transported, probability) from the API's CSV answer (with its probability column)."
    r = client.post("/predict?probability=true", data=data, content_type="text/csv")
    assert r.status_code == 200 and r.headers["X-Model-Version"] == version, r.get_data(as_text=True)[:300]
    header, *rows = csv.reader(io.StringIO(r.get_data(as_text=True)))
    assert header == [ID, TARGET, "probability"] and {t for _, t, _ in rows} <= {"True", "False"}
    return {pid: (t == "True", float(p)) for pid, t, p in rows}  # float() reads back the exact double


def json_record(row: dict) -> dict:
    "A CSV row (text, empty = missing) as a JSON passenger: numbers as numbers, booleans in the file's own spelling."
    record = {}
    for name, text in row.items():
        if text == "": continue  # absent = missing
        record[name] = float(text) if name in NUMBER_COLUMNS else text  # "True"/"False" are accepted spellings
    return record


def test_every_path_gives_every_passenger_the_same_answer(case, client, tmp_path):
    model_dir, test_csv = case
    version = current_version(model_dir)
    data = test_csv.read_bytes()
    rows = pd.read_csv(test_csv, dtype=str, keep_default_na=False)
    ids = list(rows[ID])

    whole = csv_answers(client, data, version)                                        # (a) the file as it is
    shuffled_rows = rows.sample(frac=1, random_state=0)
    assert list(shuffled_rows[ID]) != ids
    shuffled = csv_answers(client, shuffled_rows.to_csv(index=False).encode(), version)  # (b) the same rows shuffled

    per_group = {}                                                                     # (c) one JSON request per travel group
    groups = rows.groupby(travel_group(rows[ID].to_numpy()), sort=False)
    for _, group in groups:
        records = [json_record(r) for r in group.to_dict(orient="records")]
        r = client.post("/predict", data=json.dumps(records), content_type="application/json")
        assert r.status_code == 200 and r.json["model_version"] == version, r.json
        for p in r.json["predictions"]:
            per_group[p[ID]] = (p[TARGET], p["probability"])
    assert len(groups) < len(ids)  # some groups have several passengers: the group features are exercised

    cli = My_Classifier_Model(model_dir=model_dir, results_file=tmp_path / "results.csv")  # (d) the command line
    submission = pd.read_csv(cli.predict(test_csv), dtype={ID: str})
    assert list(submission[ID]) == ids and cli.bundle.version == version
    cli_proba, cli_transported = cli.bundle.predict(passenger_columns(read_passengers(test_csv)))  # its reader, its model
    assert list(submission[TARGET]) == list(cli_transported)
    command_line = {pid: (bool(t), float(p)) for pid, t, p in zip(ids, submission[TARGET], cli_proba)}

    for name, answers in (("whole CSV", whole), ("shuffled CSV", shuffled), ("JSON per group", per_group)):
        assert set(answers) == set(ids), name
        differ = [pid for pid in ids if answers[pid][0] != command_line[pid][0]
                  or abs(answers[pid][1] - command_line[pid][1]) > 1e-9]
        assert not differ, f"{name}: {len(differ)} of {len(ids)} passengers differ from the command line, e.g. " \
                           f"{[(pid, answers[pid], command_line[pid]) for pid in differ[:3]]}"
    assert 0 < sum(t for t, _ in command_line.values()) < len(ids)  # both classes occur: the comparison can tell
