"""The REST API on port 5000: `python flask_app.py --help` lists the options.

    python flask_app.py                   # production server (gunicorn, gevent workers) on 127.0.0.1:5000
    python flask_app.py --host 0.0.0.0 --port 8000 --workers 4 --model-dir /srv/model
    gunicorn flask_app:app -k gevent      # the same app under a gunicorn you configure yourself

The API answers with `My_Classifier_Model`'s current model: a new version (model/CURRENT: a training, a promotion,
a rollback) is picked up by every worker without a restart. Settings come from SPACESHIP_* environment variables.
The code lives in the package spaceship_clf.serving, written from nbs/05*_serving_*.ipynb.
"""
import sys

from spaceship_clf.classifier import My_Classifier_Model
from spaceship_clf.serving import create_app
from spaceship_clf.serving.server import main


def make_app(model_dir=None):
    "The API answering with My_Classifier_Model's live model (built in each worker)."
    return create_app(live=My_Classifier_Model(model_dir).live)


if __name__ == "__main__":
    sys.exit(main(app_factory=make_app))
else:
    app = make_app()  # `gunicorn flask_app:app`: built in each worker, which loads the model once
