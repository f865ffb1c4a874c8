"""The REST API in-process, through Flask's test client: every endpoint, every class of bad request, and a fuzz run
(hypothesis) that must never produce a 5xx. The app is `spaceship_clf.serving.create_app` serving `trained_home`'s store."""
import io
import json
import math
import logging
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from spaceship_clf.classifier import My_Classifier_Model
from spaceship_clf.core import ServingSettings
from spaceship_clf.data import BOOL_COLUMNS, FEATURE_SOURCES, ID, NUMBER_COLUMNS, RAW_COLUMNS, SCHEMA, passenger_columns, read_json, read_passengers
from spaceship_clf.serving import create_app
from spaceship_clf.serving.server import gunicorn_options
from spaceship_clf.store import load_model

LIMITS_FOR_TESTS = ServingSettings(max_passengers=5, max_json_bytes=20_000, max_csv_bytes=300_000, model_poll_seconds=0)
ONE = {ID: "0013_01", "HomePlanet": "Earth", "CryoSleep": True, "Cabin": "G/3/S", "Destination": "TRAPPIST-1e", "Age": 27,
       "VIP": False, "RoomService": 0, "FoodCourt": 0, "ShoppingMall": 0, "Spa": 0, "VRDeck": 0, "Name": "Nelly Carsoning"}


@pytest.fixture(scope="module")
def app(trained_home):
    return create_app(trained_home / "model", LIMITS_FOR_TESTS)


@pytest.fixture
def client(app):
    return app.test_client()


def passengers(trained_home, n):
    "The first `n` passengers of test.csv as JSON records (null where missing)."
    frame = pd.read_csv(trained_home / "test.csv", dtype=object).head(n)
    return json.loads(frame.to_json(orient="records"))


def fix_types(record):
    "CSV text -> JSON types."
    out = {}
    for k, v in record.items():
        if v is None: out[k] = None
        elif k in BOOL_COLUMNS: out[k] = v == "True"
        elif k in NUMBER_COLUMNS: out[k] = float(v)
        else: out[k] = v
    return out


def served_version(app) -> str:
    return app.extensions["spaceship_clf"].live.bundle.version


# ---------------------------------------------------------------- predictions
def test_one_passenger(client, app, trained_home):
    r = client.post("/predict", json=ONE)
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.json
    assert body["model_version"] == served_version(app) == (trained_home / "model/CURRENT").read_text().strip()
    assert r.headers["X-Model-Version"] == body["model_version"]
    [p] = body["predictions"]
    assert p[ID] == "0013_01" and isinstance(p["Transported"], bool) and 0 <= p["probability"] <= 1
    assert p["Transported"] == (p["probability"] >= 0.5)


def test_missing_values_are_accepted(client):
    r = client.post("/predict", json={ID: "0001_01", "Age": None, "CryoSleep": None})
    assert r.status_code == 200, r.json
    absent = client.post("/predict", json={ID: "0001_01"})
    assert absent.status_code == 200
    blank = client.post("/predict", json={ID: "0001_01", "Name": "", "Cabin": "  ", "Age": " ", "VIP": ""})  # blank = missing, as in a CSV
    assert blank.status_code == 200, blank.json
    assert blank.json["predictions"] == absent.json["predictions"] == r.json["predictions"]


@pytest.mark.parametrize("spelling, value", [("yes", True), ("YES", True), ("1", True), ("true", True), ("True", True),
                                             ("no", False), ("0", False), ("FALSE", False)])
def test_boolean_spellings_of_a_csv_file(client, spelling, value):
    "JSON accepts the spellings a CSV file may use for booleans, any case, and they mean what the JSON literal means."
    spelled = client.post("/predict", json={**ONE, "CryoSleep": spelling, "VIP": spelling})
    literal = client.post("/predict", json={**ONE, "CryoSleep": value, "VIP": value})
    assert spelled.status_code == 200, spelled.json
    assert spelled.json == literal.json


def test_group_matches_the_file_path(client, trained_home):
    "A travel group sent together gets exactly the probabilities the CLI computes for the same rows."
    group = [fix_types(p) for p in passengers(trained_home, 5)]
    r = client.post("/predict", json=group)
    assert r.status_code == 200, r.json
    assert [p[ID] for p in r.json["predictions"]] == [p[ID] for p in group]
    frame = read_passengers(trained_home / "test.csv").head(5)
    expected = load_model(trained_home / "model").predict_proba(passenger_columns(frame))
    assert [p["probability"] for p in r.json["predictions"]] == pytest.approx(list(expected), abs=1e-12)


def test_group_features_come_from_the_request(client, trained_home):
    "A passenger alone and the same passenger with group-mates may differ: group size is taken from the request."
    mates = [dict(ONE, **{ID: f"0013_0{i}", "Name": f"Ann Carsoning{i}"}) for i in range(1, 5)]
    alone = client.post("/predict", json=mates[0]).json["predictions"][0]["probability"]
    together = client.post("/predict", json=mates).json["predictions"][0]["probability"]
    assert alone != together


def test_csv_body_and_upload_match_the_cli(client, trained_home, tmp_path):
    expected = My_Classifier_Model(model_dir=trained_home / "model", results_file=tmp_path / "r.csv").predict(trained_home / "test.csv").read_text()
    data = (trained_home / "test.csv").read_bytes()
    r = client.post("/predict", data=data, content_type="text/csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.get_data(as_text=True) == expected
    r = client.post("/predict", data={"file": (io.BytesIO(data), "test.csv")}, content_type="multipart/form-data")
    assert r.status_code == 200 and r.get_data(as_text=True) == expected
    with_probability = client.post("/predict?probability=true", data=data, content_type="text/csv").get_data(as_text=True)
    lines = with_probability.splitlines()
    assert lines[0] == "PassengerId,Transported,probability" and len(lines) == len(expected.splitlines())
    assert [l.rsplit(",", 1)[0] for l in lines[1:]] == expected.splitlines()[1:]  # the same answers, one more column


# ---------------------------------------------------------------- explanations
def logit(p): return math.log(p / (1 - p))


@pytest.mark.parametrize("n", [1, 5])
def test_explain_adds_up_to_the_probability(client, trained_home, n):
    "With ?explain=true every passenger's base + contributions is the logit of its probability (1e-6), and the answers are the plain ones."
    body = [fix_types(p) for p in passengers(trained_home, n)] if n > 1 else ONE
    plain = client.post("/predict", json=body).json
    r = client.post("/predict?explain=true", json=body)
    assert r.status_code == 200 and r.headers["X-Model-Version"] == plain["model_version"] == r.json["model_version"]
    assert len(r.json["predictions"]) == n
    for explained, answer in zip(r.json["predictions"], plain["predictions"]):
        e = explained.pop("explanation")
        assert explained == answer  # the same answer, every digit
        assert set(e) == {"base", "contributions"} and set(e["contributions"]) == set(FEATURE_SOURCES.values())
        assert set(e["contributions"]) <= set(RAW_COLUMNS) | {"TotalSpend"}  # named as a person knows them
        assert abs(logit(answer["probability"]) - (e["base"] + sum(e["contributions"].values()))) < 1e-6
        assert any(abs(v) > 1e-3 for v in e["contributions"].values())


def test_explanations_follow_the_passenger(client, trained_home):
    "Changing one column moves that column's contribution; the base stays the model's."
    asleep = client.post("/predict?explain=true", json={**ONE, "CryoSleep": True}).json["predictions"][0]["explanation"]
    awake = client.post("/predict?explain=true", json={**ONE, "CryoSleep": False}).json["predictions"][0]["explanation"]
    assert asleep["base"] == awake["base"] and asleep["contributions"]["CryoSleep"] != awake["contributions"]["CryoSleep"]
    bundle = load_model(trained_home / "model")
    base, contributions = bundle.explain(read_json(json.dumps(ONE).encode())[0], thread_count=1)
    assert asleep["contributions"] == pytest.approx({k: float(v[0]) for k, v in contributions.items()}, abs=1e-12)


def test_explain_is_asked_for_and_only_of_json(client, trained_home):
    for query in ("", "?explain=false", "?explain=no", "?probability=true"):
        r = client.post("/predict" + query, json=ONE)
        assert r.status_code == 200 and "explanation" not in r.json["predictions"][0], query
    for spelling in ("true", "TRUE", "yes", "1"):
        assert "explanation" in client.post(f"/predict?explain={spelling}", json=ONE).json["predictions"][0]
    body = error(client.post("/predict?explain=perhaps", json=ONE), 422)
    assert body["problems"][0]["field"] == "explain" and "explain must be true or false" in body["error"]
    csv_body = (trained_home / "test.csv").read_bytes()
    body = error(client.post("/predict?explain=true", data=csv_body, content_type="text/csv"), 422)
    assert body["problems"][0]["field"] == "explain" and "python model.py predict --explain" in body["error"]
    assert client.post("/predict?explain=false", data=csv_body, content_type="text/csv").status_code == 200
    error(client.post("/predict?explain=true", json={**ONE, "Age": -1}), 422)  # validation comes first, as always


def test_openapi_describes_explanations(client):
    doc = client.get("/openapi.json").json
    predict = doc["paths"]["/predict"]["post"]
    explain = next(p for p in predict["parameters"] if p["name"] == "explain")
    assert explain["in"] == "query" and "true" in explain["schema"]["enum"] and "explanation" in explain["description"]
    assert "logit" in predict["description"]
    schemas = doc["components"]["schemas"]
    assert schemas["Prediction"]["properties"]["explanation"]["anyOf"][0] == {"$ref": "#/components/schemas/Explanation"}
    contributions = schemas["Explanation"]["properties"]["contributions"]
    assert set(contributions["properties"]) == set(FEATURE_SOURCES.values()) and contributions["additionalProperties"] is False
    assert set(schemas["Explanation"]["required"]) == {"base", "contributions"}


# ---------------------------------------------------------------- errors
def error(r, status):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    assert r.mimetype == "application/json"
    body = r.json
    assert body["status"] == status and body["error"]
    return body


@pytest.mark.parametrize("change, field, kind", [
    ({"Age": "thirty"}, "Age", "value_error"),                 # text that is no number (numbers as text are taken, as in CSV)
    ({"Age": True}, "Age", "float_type"),
    ({"CryoSleep": "maybe"}, "CryoSleep", "value_error"),      # not one of the spellings
    ({"CryoSleep": 2}, "CryoSleep", "bool_type"),
    ({"HomePlanet": 3}, "HomePlanet", "string_type"),
    ({"Age": -1}, "Age", "greater_than_equal"),                # out of range
    ({"Spa": 1e8}, "Spa", "less_than_equal"),
    ({"Cabin": "G/3/X"}, "Cabin", "string_pattern_mismatch"),
    ({ID: "13_1"}, ID, "string_pattern_mismatch"),
    ({"Pet": "cat"}, "Pet", "extra_forbidden"),                # unknown field
    ({"Name": "x" * 201}, "Name", "string_too_long"),
])
def test_schema_violations_name_the_field(client, change, field, kind):
    body = error(client.post("/predict", json={**ONE, **change}), 422)
    assert body["problems"][0]["field"] == field and body["problems"][0]["type"] == kind
    assert body["error"].startswith("1 problem(s)") and field in body["error"]


def test_missing_required_field(client):
    body = error(client.post("/predict", json={k: v for k, v in ONE.items() if k != ID}), 422)
    assert body["problems"] == [{"field": ID, "problem": "Field required", "type": "missing"}]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity(client, literal):
    body = error(client.post("/predict", data=f'{{"PassengerId": "0001_01", "Age": {literal}}}', content_type="application/json"), 422)
    assert body["problems"][0]["field"] == "Age" and body["problems"][0]["type"] == "finite_number"


def test_list_errors_name_the_passenger(client):
    body = error(client.post("/predict", json=[ONE, {**ONE, ID: "0013_02", "VIP": 2}]), 422)  # 0 and 1 are booleans, as in a CSV file
    assert body["problems"][0]["field"] == "[1].VIP"


@pytest.mark.parametrize("data", ["{", '{"PassengerId": "0001_01",}', "[1, 2", "nul", "\xff"])
def test_malformed_json(client, data):
    body = error(client.post("/predict", data=data, content_type="application/json"), 400)
    assert "not valid JSON" in body["error"]


@pytest.mark.parametrize("data", ["null", '"text"', "42", "[[1]]"])
def test_json_that_is_not_passengers(client, data):
    error(client.post("/predict", data=data, content_type="application/json"), 422)


@pytest.mark.parametrize("content_type", ["application/xml", "text/html", "application/x-www-form-urlencoded", None])
def test_unsupported_content_type(client, content_type):
    kwargs = {"content_type": content_type} if content_type else {}
    body = error(client.post("/predict", data=json.dumps(ONE), **kwargs), 415)
    assert "application/json" in body["error"]


def test_empty_list_and_list_over_the_limit(client):
    assert error(client.post("/predict", json=[]), 422)["problems"][0]["type"] == "too_short"
    group = [{ID: f"0001_{i:02d}"} for i in range(1, 7)]  # the limit is 5 here
    body = error(client.post("/predict", json=group), 422)
    assert body["problems"][0]["type"] == "too_long" and "at most 5" in body["error"]


def test_duplicate_ids(client):
    body = error(client.post("/predict", json=[ONE, ONE]), 422)
    assert body["problems"][0]["field"] == "[1].PassengerId"


def test_body_over_the_byte_limits(client):
    body = error(client.post("/predict", data=b"[" + b" " * 20_000 + b"]", content_type="application/json"), 413)
    assert "20000" in body["error"]
    error(client.post("/predict", data=b"x" * 300_001, content_type="text/csv"), 413)


def test_bad_csv(client, trained_home):
    lines = (trained_home / "test.csv").read_text().splitlines()
    bad = "\n".join(lines[:3] + [re.sub(r",[\d.]+,", ",many,", lines[3], count=1)] + lines[4:6]) + "\n"
    body = error(client.post("/predict", data=bad, content_type="text/csv"), 422)
    assert "line 4" in body["error"], body
    body = error(client.post("/predict", data="PassengerId,Age\n0001_01,3\n", content_type="text/csv"), 422)
    assert "missing columns" in body["error"]
    error(client.post("/predict", data="", content_type="text/csv"), 422)
    error(client.post("/predict", data={"other": "x"}, content_type="multipart/form-data"), 400)
    error(client.post("/predict?probability=perhaps", data=(trained_home / "test.csv").read_bytes(), content_type="text/csv"), 422)


@pytest.mark.parametrize("make_body, status, words", [
    (lambda test: test.splitlines()[0] + "\n", 422, "no passengers"),                               # a header only
    (lambda test: "\n".join(l.split(",", 1)[1] for l in test.splitlines()[:4]) + "\n", 422, "missing column PassengerId"),
    (lambda test: "date,price,volume\n2024-01-02,10.5,300\n2024-01-03,10.7,250\n", 422, "not a passenger file"),
    (lambda test: "PassengerId,Name\n0001_01,Ann\n", 422, "missing columns"),
])
def test_bad_csv_says_what_is_wrong(client, trained_home, make_body, status, words):
    "A CSV that is not what the API takes gets one line saying what is wrong, as JSON, whether sent as a body or a file."
    data = make_body((trained_home / "test.csv").read_text())
    for kwargs in (dict(data=data, content_type="text/csv"),
                   dict(data={"file": (io.BytesIO(data.encode()), "x.csv")}, content_type="multipart/form-data")):
        body = error(client.post("/predict", **kwargs), status)
        assert words in body["error"] and "\n" not in body["error"] and len(body["error"]) < 300, body


def test_unknown_paths_and_methods(client):
    error(client.get("/nowhere"), 404)
    error(client.get("/predict"), 405)
    error(client.delete("/model"), 405)


# ---------------------------------------------------------------- the other endpoints
def test_health_and_model(client, trained_home):
    assert client.get("/health/live").json == {"status": "alive"}
    ready = client.get("/health/ready")
    version = (trained_home / "model/CURRENT").read_text().strip()
    assert ready.status_code == 200 and ready.json["ready"] is True and ready.json["model_version"] == version
    meta = client.get("/model").json
    assert meta["version"] == version and meta["features"] and meta["cv"]["folds"] == 2 and meta["created_at"]


def test_no_model_is_not_ready_and_no_crash(trained_home, tmp_path):
    records = []
    handler = logging.Handler(); handler.emit = records.append
    logging.getLogger("spaceship_clf").addHandler(handler)
    try:
        client = create_app(tmp_path / "model", LIMITS_FOR_TESTS).test_client()
    finally:
        logging.getLogger("spaceship_clf").removeHandler(handler)
    assert any(r.levelno == logging.ERROR and "no trained model" in r.getMessage() for r in records)
    assert client.get("/health/live").status_code == 200
    ready = client.get("/health/ready")
    assert ready.status_code == 503 and ready.json["ready"] is False and "train one" in ready.json["reason"]
    assert "no model loaded" in error(client.post("/predict", json=ONE), 503)["error"]
    error(client.get("/model"), 503)
    shutil.copytree(trained_home / "model", tmp_path / "model")  # a model appears: picked up without a restart
    assert client.get("/health/ready").status_code == 200
    assert client.post("/predict", json=ONE).status_code == 200


def test_broken_model_is_not_ready(trained_home, tmp_path):
    shutil.copytree(trained_home / "model", tmp_path / "model")
    for cbm in (tmp_path / "model").rglob("model.cbm"): cbm.write_bytes(b"garbage")
    client = create_app(tmp_path / "model", LIMITS_FOR_TESTS).test_client()
    ready = client.get("/health/ready")
    assert ready.status_code == 503 and "corrupted" in ready.json["reason"]
    version = (tmp_path / "model/CURRENT").read_text().strip()
    failures = f'spaceship_model_load_failures_total{{version="{version}"}} 1.0'
    assert failures in client.get("/metrics").get_data(as_text=True)


def test_metrics(app):
    client = app.test_client()
    def value(text, name, **labels):
        want = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for line in text.splitlines():
            if line.startswith(f"{name}{{{want}}} " if want else f"{name} "): return float(line.split()[-1])
        return 0.0
    before = client.get("/metrics").get_data(as_text=True)
    client.post("/predict", json=[ONE, {**ONE, ID: "0013_02"}])
    client.post("/predict", json={"bad": 1})
    client.get("/no/such/path")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    after = r.get_data(as_text=True)
    ok = dict(endpoint="/predict", method="POST", status="200")
    assert value(after, "spaceship_http_requests_total", **ok) - value(before, "spaceship_http_requests_total", **ok) == 1
    bad = dict(endpoint="/predict", method="POST", status="422")
    assert value(after, "spaceship_http_requests_total", **bad) - value(before, "spaceship_http_requests_total", **bad) == 1
    assert value(after, "spaceship_http_requests_total", endpoint="(unmatched)", method="GET", status="404") >= 1
    predicted = sum(value(after, "spaceship_predictions_total", transported=t) - value(before, "spaceship_predictions_total", transported=t)
                    for t in ("true", "false"))
    assert predicted == 2
    assert value(after, "spaceship_http_request_duration_seconds_count", endpoint="/predict") >= 2
    version = served_version(app)
    assert value(after, "spaceship_model_info", version=version) == 1 and value(after, "spaceship_workers_ready") == 1


def test_openapi_document_and_docs(client):
    doc = client.get("/openapi.json").json
    assert doc["openapi"].startswith("3.1") and set(doc["paths"]) >= {"/predict", "/health/live", "/health/ready", "/model", "/metrics"}
    body = doc["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "text/csv", "multipart/form-data"}
    passenger = doc["components"]["schemas"]["Passenger"]
    assert list(passenger["properties"]) == list(RAW_COLUMNS) and passenger["additionalProperties"] is False
    assert passenger["properties"]["Age"]["anyOf"][0]["maximum"] == SCHEMA["Age"].limits[1]
    assert "sent together" in doc["info"]["description"]
    assert doc["components"]["schemas"]["PassengerList"]["maxItems"] == 5
    docs = client.get("/docs")
    assert docs.status_code == 200 and b"swagger-ui" in docs.data and b"//" not in docs.data.replace(b"<!doctype", b"")
    asset = client.get("/docs/static/js/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
    assert b"SwaggerUIBundle" in client.get("/static/docs-init.js").data
    error(client.get("/docs/static/../../../../etc/passwd"), 404)


def test_page(client, app):
    r = client.get("/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    for column in RAW_COLUMNS: assert f'id="{column}"' in page
    for choice in (*SCHEMA["HomePlanet"].values, *SCHEMA["Destination"].values):
        assert f'<option value="{choice}">' in page  # choices from the schema
    assert f'max="{SCHEMA["Age"].limits[1]:g}"' in page and 'id="Cabin-deck"' in page and '<option value="S">' in page
    version = served_version(app)
    assert f'data-version="{version}"' in page and f"<dd>{version}</dd>" in page  # the model card
    assert page.count("data-passenger=") >= 3 and 'id="example-group"' in page
    assert "script-src 'self'" in r.headers["Content-Security-Policy"] and r.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in page and "<style" not in page and " style=" not in page  # no inline code
    assert "https://" not in page and "http://" not in page  # nothing from another host
    assert '<script src="/static/page.js"' in page and 'href="/static/page.css"' in page
    js = client.get("/static/page.js")
    assert js.status_code == 200 and js.mimetype == "text/javascript" and b"textContent" in js.data and b"innerHTML" not in js.data
    assert b"outerHTML" not in js.data and b"insertAdjacentHTML" not in js.data and b"eval(" not in js.data
    assert client.get("/static/favicon.svg").status_code == 200
    weight = sum(len(client.get(path).data) for path in ("/", "/static/page.css", "/static/page.js", "/static/favicon.svg"))
    assert weight < 300_000, weight  # the first load (the browser test measures it with headers too)
    css = client.get("/static/page.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    error(client.get("/static/nothing.js"), 404)
    error(client.get("/static/../app.py"), 404)


def test_page_escapes_what_it_prints(app):
    "The page is a Jinja template: text from the schema, the examples and the model's metadata is escaped, never markup."
    from spaceship_clf.serving.page import page
    field = {"name": "<b>x</b>", "label": "<b>x</b>", "control": "text", "placeholder": '"><script>', "description": "<u>d</u>",
             "hint": "<em>h</em>", "kind": "text", "maxlength": 9}
    with app.test_request_context("/"):
        from flask import render_template
        html = render_template("index.html", sections=[("<s>t</s>", [field])], examples=[("<b>e</b>", {"Name": "'><img src=x>"})],
                               group_csv="a\n'\"><script>", facts=[("<b>k</b>", "<img src=x>")], version="'\"><x>",
                               problem=None, threshold=0.5, labels={"<b>": ["'", "<"]}, settings=LIMITS_FOR_TESTS, note="<i>note</i>")
    for markup in ("<b>", "<script>", "<i>", "<u>", "<em>", "<s>", "<img src=x", "<x>"): assert markup not in html, markup
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert page.static_folder and (Path(page.static_folder) / "page.js").is_file()


def test_page_examples_are_valid_passengers():
    "The example passengers and the example group are read the way the API reads them."
    from spaceship_clf.serving.page import EXAMPLE_GROUP, EXAMPLE_PASSENGERS, example_csv
    for _, passenger in EXAMPLE_PASSENGERS: read_json(json.dumps(passenger).encode())
    frame = read_passengers(io.BytesIO(example_csv(EXAMPLE_GROUP).encode()))
    assert list(frame[ID]) == [p[ID] for p in EXAMPLE_GROUP]


def test_gunicorn_options():
    options = gunicorn_options(ServingSettings(host="127.0.0.1", port=5001, workers=3))
    assert options["bind"] == "127.0.0.1:5001" and options["workers"] == 3 and options["worker_class"].__name__ == "FairGeventWorker"
    assert callable(options["on_starting"]) and callable(options["child_exit"])


# ---------------------------------------------------------------- fuzz: no input produces a 5xx
json_values = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                           max_leaves=10)
field_values = st.none() | st.booleans() | st.floats() | st.integers(-10**20, 10**20) | st.text(max_size=40) | \
    st.sampled_from(["0001_01", "G/3/S", "Europa", "55 Cancri e", "A/0/P", "x/9999999999999999999999/S", " ", ""]) | json_values
passenger_like = st.dictionaries(st.sampled_from(list(RAW_COLUMNS) + ["Extra"]), field_values, max_size=len(RAW_COLUMNS))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=passenger_like | st.lists(passenger_like, max_size=7) | json_values)
def test_fuzz_json_never_5xx(app, body):
    r = app.test_client().post("/predict", data=json.dumps(body), content_type="application/json")
    assert r.status_code in (200, 400, 413, 422), (r.status_code, r.get_data(as_text=True))
    assert r.json is not None


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
       content_type=st.sampled_from(["application/json", "text/csv", "text/plain", "multipart/form-data", "application/octet-stream",
                                     "application/json; charset=latin-1", "multipart/form-data; boundary=x"]))
def test_fuzz_bytes_never_5xx(app, data, content_type):
    r = app.test_client().post("/predict", data=data, content_type=content_type)
    assert r.status_code < 500, (r.status_code, r.get_data(as_text=True))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(st.lists(st.text(max_size=12) | st.sampled_from(["0001_01", "True", "nan", "inf", "1e400", "-0", "G/1/S"]),
                              min_size=len(RAW_COLUMNS), max_size=len(RAW_COLUMNS)), min_size=1, max_size=5))
def test_fuzz_csv_never_5xx(app, rows):
    text = ",".join(RAW_COLUMNS) + "\n" + "\n".join(",".join(json.dumps(v) if "," in v or "\n" in v or '"' in v else v for v in row)
                                                   for row in rows) + "\n"
    r = app.test_client().post("/predict", data=text.encode(), content_type="text/csv")
    assert r.status_code < 500, (r.status_code, r.get_data(as_text=True))
