"""Group-aware CV accuracy of the baseline and of CatBoost (defaults, the product's parameters, tuned), each paired with
the product's model on identical folds, and the time of one final training.

    python bench/cv.py                                   # data/train.csv, 5 group folds x seeds 0 1 2
    python bench/cv.py --data path/to/train.csv --seeds 3 4 5 --only house default
    python bench/cv.py --only house second ensemble      # issue #11's candidate second learner, paired

Every model is scored the same way (`evaluation.cross_validate`: StratifiedGroupKFold on the travel group, the one
feature function), on the same folds, so differences are paired per fold: the table shows each model's mean +- std over
all folds and, against the product's model (`house`: what `python model.py train` uses), the mean paired difference
and in how many folds it was better / worse. One CatBoost seed moves a score by about +-0.004: a difference is real
only at about >= +0.004 with >= 13 of 15 folds better. A report, not a test: it prints figures and never fails on them.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sklearn.ensemble import HistGradientBoostingClassifier

from spaceship_clf.baseline import baseline_model
from spaceship_clf.classifier import fit_catboost, training_params
from spaceship_clf.data import load_passengers
from spaceship_clf.evaluation import DEFAULT_PARAMS, LabelledPassengers, catboost_model, cross_validate

ROOT = Path(__file__).resolve().parents[1]
HGB = dict(learning_rate=0.05, max_iter=300, max_leaf_nodes=15, min_samples_leaf=20, l2_regularization=1.0,
           early_stopping=False, categorical_features="from_dtype", random_state=0)  # fixed in advance (issue #11)


def with_spending_split(X: pd.DataFrame) -> pd.DataFrame:
    "The product's features plus Luxury (RoomService + Spa + VRDeck) and Basic (FoodCourt + ShoppingMall), categories as dtype."
    out = X.assign(Luxury=X[["RoomService", "Spa", "VRDeck"]].sum(axis=1), Basic=X[["FoodCourt", "ShoppingMall"]].sum(axis=1))
    return out.astype({c: "category" for c in X.select_dtypes(exclude="number").columns})


class SecondLearner:
    "scikit-learn's HistGradientBoosting on the product's features plus the spending split (a candidate, not the product)."
    def fit(self, X, y): self.model = HistGradientBoostingClassifier(**HGB).fit(with_spending_split(X), y); return self
    def predict_proba(self, X): return self.model.predict_proba(with_spending_split(X))


class MeanOfTwo:
    "The product's CatBoost and the second learner, probabilities averaged (issue #11's candidate)."
    def __init__(self, catboost): self.models = [catboost, SecondLearner()]
    def fit(self, X, y): [m.fit(X, y) for m in self.models]; return self
    def predict_proba(self, X): return np.mean([m.predict_proba(X) for m in self.models], axis=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "train.csv", help="labelled CSV (default: data/train.csv)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="fold shuffles (default: 0 1 2)")
    ap.add_argument("--threads", type=int, default=-1, help="CatBoost threads")
    ap.add_argument("--only", nargs="+", choices=["baseline", "default", "house", "defaults", "second", "ensemble"], default=["baseline", "default", "house", "defaults"])
    a = ap.parse_args()
    if not a.data.exists():
        sys.exit(f"{a.data}: no such file; copy Kaggle's train.csv to data/ (README, 'Data') or pass --data PATH")

    data = LabelledPassengers.of(load_passengers(a.data, require_target=True))  # features once for every model
    house, source = training_params()
    models = {
        "baseline": ("logistic regression (baseline)", baseline_model),
        "default": ("CatBoost, CatBoost's defaults", lambda: catboost_model(thread_count=a.threads)),
        "house": (f"CatBoost, the product's parameters ({source})", lambda: catboost_model(**house, thread_count=a.threads)),
    }
    models["second"] = ("HistGradientBoosting + spending split (second learner alone)", SecondLearner)
    models["ensemble"] = ("mean of CatBoost (product's parameters) and the second learner", lambda: MeanOfTwo(catboost_model(**house, thread_count=a.threads)))
    if source != "defaults":  # tuned parameters ship with the product: compare them with the hand-set ones too
        models["defaults"] = ("CatBoost, DEFAULT_PARAMS", lambda: catboost_model(**DEFAULT_PARAMS, thread_count=a.threads))
    results = {}
    for key in ["house"] + [k for k in a.only if k != "house"]:
        if key not in models: continue
        name, make = models[key]
        results[key] = cross_validate(make, data, name, n_splits=a.folds, seeds=tuple(a.seeds))
        print(f"{name}: {results[key].mean:.4f} +- {results[key].std:.4f} ({results[key].seconds:.0f}s)", flush=True)

    reference = np.array(results["house"].scores)
    rows = []
    for key, res in results.items():
        diff = np.array(res.scores) - reference
        rows.append({"model": res.name, "accuracy": f"{res.mean:.4f} +- {res.std:.4f}", "vs product": f"{diff.mean():+.4f}",
                     "folds better/worse": f"{(diff > 0).sum()}/{(diff < 0).sum()}", "seconds": round(res.seconds)})
    start = time.perf_counter()
    fit_catboost(data, {**house, "thread_count": a.threads})
    final = time.perf_counter() - start

    print(f"\n{len(data)} passengers from {a.data}; {a.folds} group folds x seeds {a.seeds}\n")
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"\none final training on all rows with the product's parameters ({source}): {final:.1f}s")
    print(f"product's parameters: {json.dumps(house)}")
    print("per-fold scores (product): " + " ".join(f"{s:.4f}" for s in reference))


if __name__ == "__main__":
    main()
