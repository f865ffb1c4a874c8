"""Group-aware CV accuracy of the baseline, default CatBoost and tuned CatBoost, and the time of one final training.

    python bench/cv.py [--data ../shared/data/spaceship-titanic/train.csv] [--params model/best_params.json]
                       [--folds 5] [--seeds 0 1 2] [--threads -1]

Every model is scored the same way: StratifiedGroupKFold on the travel group, `--folds` folds, repeated for each of
`--seeds` shuffles; the table shows mean +- std over all folds. The tuned parameters are the ones `nbs/03_tune.ipynb`
wrote (its study scored them on the seed-0 folds, so the seed-0 part of their score is slightly optimistic; seeds 1
and 2 are folds the search never saw). A report, not a test: it prints figures and never fails on them.
"""
import argparse
import json
import time
from pathlib import Path

import pandas as pd

from spaceship_clf.baseline import baseline_model, catboost_model, cross_validate
from spaceship_clf.classifier import DEFAULT_PARAMS
from spaceship_clf.data import TARGET, feature_frame, load_passengers, passenger_columns

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "spaceship-titanic" / "train.csv")
    ap.add_argument("--params", type=Path, default=ROOT / "model" / "best_params.json", help="the tuning notebook's result")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=-1, help="CatBoost threads")
    ap.add_argument("--only", nargs="+", choices=["baseline", "default", "house", "tuned"], default=["baseline", "default", "house", "tuned"])
    a = ap.parse_args()

    frame = load_passengers(a.data, require_target=True)
    models = {
        "baseline": ("logistic regression (baseline)", baseline_model),
        "default": ("CatBoost, CatBoost's defaults", lambda: catboost_model(thread_count=a.threads)),
        "house": ("CatBoost, DEFAULT_PARAMS", lambda: catboost_model(**DEFAULT_PARAMS, thread_count=a.threads)),
    }
    tuned = None
    if a.params.exists():
        tuned = json.loads(a.params.read_text())
        models["tuned"] = (f"CatBoost, tuned ({tuned.get('study_name')}, {tuned.get('trials')} trials)",
                           lambda: catboost_model(**tuned["params"], thread_count=a.threads))
    else:
        print(f"no {a.params}: run the tuning notebook first to score tuned parameters")

    rows = []
    for key in a.only:
        if key not in models: continue
        name, make = models[key]
        result = cross_validate(make, frame, name, n_splits=a.folds, seeds=tuple(a.seeds))
        rows.append({**result.as_dict(), "accuracy": f"{result.mean:.4f} +- {result.std:.4f}"})
        print(f"{name}: {rows[-1]['accuracy']} ({result.seconds:.0f}s)", flush=True)

    params = tuned["params"] if tuned else DEFAULT_PARAMS
    X, y = feature_frame(passenger_columns(frame)), frame[TARGET].astype(bool).to_numpy()
    start = time.perf_counter()
    catboost_model(**params, thread_count=a.threads).fit(X, y)
    final = time.perf_counter() - start

    print(f"\n{len(frame)} passengers from {a.data}; {a.folds} group folds x seeds {a.seeds}\n")
    print(pd.DataFrame(rows)[["model", "accuracy", "folds", "seconds"]].to_string(index=False))
    print(f"\none final training on all rows with the {'tuned' if tuned else 'default'} parameters: {final:.1f}s")
    if tuned: print(f"tuned parameters: {json.dumps(tuned['params'])}")


if __name__ == "__main__":
    main()
