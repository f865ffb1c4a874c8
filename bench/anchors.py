"""The anchors the product is measured against: what a user would write instead, given the same CatBoost model file.

- `app`: a Flask service as a homework writes it, run under gunicorn with 2 sync workers: the request's JSON into a
  pandas DataFrame, notebook-style preparation in pandas, `predict_proba`, `jsonify`.
      SPACESHIP_ANCHOR_MODEL=model.cbm gunicorn -w 2 -b 127.0.0.1:8001 'anchors:app'      (from bench/)
- `python bench/anchors.py INPUT.csv OUTPUT.csv MODEL.cbm`: the batch script: read the whole file with pandas, the same
  preparation, `predict_proba`, write the submission with `DataFrame.to_csv`.

The preparation computes the product's features (the same names and meaning, written the way a notebook does) so the
model file trained by the product can answer; it is an anchor for speed, not a second implementation to trust.
"""
import os
import sys

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier
from flask import Flask, jsonify, request

CATEGORIES = ["HomePlanet", "Destination", "Deck", "Side"]
SPEND = ["RoomService", "FoodCourt", "ShoppingMall", "Spa", "VRDeck"]
FEATURES = CATEGORIES + ["CryoSleep", "VIP", "Age", *SPEND, "TotalSpend", "AmenitiesUsed", "NoSpend", "GroupSize", "Solo",
                         "GroupPosition", "CabinNumber", "CabinRegion", "CabinMates"]


def prepare(df: pd.DataFrame) -> pd.DataFrame:
    "Notebook-style feature engineering in pandas, written the lean way (one split per column, whole-frame operations)."
    df = df.copy()
    cabin = df["Cabin"].str.split("/", expand=True).reindex(columns=range(3))
    group = df["PassengerId"].str.split("_", expand=True)
    df["Deck"], df["Side"], df["CabinNumber"] = cabin[0], cabin[2], pd.to_numeric(cabin[1], errors="coerce")
    df["GroupPosition"] = pd.to_numeric(group[1], errors="coerce")
    df["GroupSize"] = group.groupby(0)[0].transform("size").astype(float).values
    df["Solo"] = (df["GroupSize"] == 1).astype(float)
    df["CabinMates"] = df.groupby([group[0], df["Cabin"]])["PassengerId"].transform("size").astype(float)
    df[["CryoSleep", "VIP", "Age", *SPEND]] = df[["CryoSleep", "VIP", "Age", *SPEND]].astype(float)
    spend = df[SPEND].to_numpy()
    idle = ((df["CryoSleep"] == 1) | (df["Age"] < 13)).to_numpy()[:, None]
    df[SPEND] = spend = np.where(idle & np.isnan(spend), 0.0, spend)  # asleep or a child: spent nothing
    df["TotalSpend"] = df[SPEND].sum(axis=1, min_count=1)
    df["AmenitiesUsed"] = (spend > 0).sum(axis=1).astype(float)
    df["NoSpend"] = (df["TotalSpend"] == 0).astype(float).where(df["TotalSpend"].notna())
    df["CabinRegion"] = np.floor(df["CabinNumber"] / 300)
    df[CATEGORIES] = df[CATEGORIES].fillna("missing")
    return df[FEATURES]


def load(path: str) -> CatBoostClassifier:
    model = CatBoostClassifier()
    model.load_model(path)
    return model


app = Flask(__name__)
MODEL = load(os.environ["SPACESHIP_ANCHOR_MODEL"]) if os.environ.get("SPACESHIP_ANCHOR_MODEL") else None


@app.post("/predict")
def predict():
    payload = request.get_json()
    df = pd.DataFrame(payload if isinstance(payload, list) else [payload])
    df = df.reindex(columns=["PassengerId", "HomePlanet", "CryoSleep", "Cabin", "Destination", "Age", "VIP", *SPEND, "Name"])
    proba = MODEL.predict_proba(prepare(df))[:, 1]
    return jsonify({"predictions": [{"PassengerId": pid, "Transported": bool(p >= 0.5), "probability": float(p)}
                                    for pid, p in zip(df["PassengerId"], proba)]})


def batch(source: str, target: str, model_path: str):
    "The batch script: the whole file in, the submission out."
    df = pd.read_csv(source)
    proba = load(model_path).predict_proba(prepare(df))[:, 1]
    pd.DataFrame({"PassengerId": df["PassengerId"], "Transported": proba >= 0.5}).to_csv(target, index=False)


if __name__ == "__main__":
    batch(*sys.argv[1:4])
