"""The REST API on port 5000.

    python flask_app.py                   # production server (gunicorn): settings host/port/workers, default 0.0.0.0:5000
    python flask_app.py --port 8000 --workers 4 --model-dir /srv/model
    python flask_app.py --help            # the options (the same as `spaceship-clf-serve`)
    gunicorn flask_app:app                # the same app under a gunicorn you configure yourself

Settings come from SPACESHIP_* environment variables (SPACESHIP_HOST, SPACESHIP_PORT, SPACESHIP_WORKERS,
SPACESHIP_MODEL_DIR, SPACESHIP_MODEL_POLL_SECONDS, ...). A new model version (model/CURRENT: a training, a promotion,
a rollback) is picked up by every worker without a restart. The code lives in the package spaceship_clf.serving,
written from nbs/05*_serving_*.ipynb. Endpoints: POST /predict, GET /health/live, /health/ready, /model, /metrics,
/openapi.json, /docs, and / (a page).
"""
import sys

from spaceship_clf.serving import create_app
from spaceship_clf.serving.server import main

if __name__ == "__main__":
    sys.exit(main())  # each gunicorn worker builds its own app
else:
    app = create_app()  # `gunicorn flask_app:app`: built in each worker, which loads the model once
