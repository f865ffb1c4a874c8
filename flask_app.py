"""The REST API on port 5000.

    python flask_app.py                   # production server (gunicorn): settings host/port/workers, default 0.0.0.0:5000
    python flask_app.py --port 8000 --workers 4
    gunicorn flask_app:app                # the same app under a gunicorn you configure yourself

Settings come from SPACESHIP_* environment variables (SPACESHIP_HOST, SPACESHIP_PORT, SPACESHIP_WORKERS,
SPACESHIP_MODEL_DIR, ...). The code lives in the package (spaceship_clf.serving, written from nbs/05_serving.ipynb).
Endpoints: POST /predict, GET /health/live, /health/ready, /model, /metrics, /openapi.json, /docs, and / (a page).
"""
import argparse

from spaceship_clf.serving import create_app, serve

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve the Spaceship Titanic classifier under gunicorn (never the Flask dev server).")
    parser.add_argument("--host", help="bind address (default: SPACESHIP_HOST or 0.0.0.0)")
    parser.add_argument("--port", type=int, help="port (default: SPACESHIP_PORT or 5000)")
    parser.add_argument("--workers", type=int, help="worker processes (default: SPACESHIP_WORKERS or 2)")
    parser.add_argument("--worker-class", choices=["sync", "gthread"], help="gunicorn worker type (default: sync)")
    args = parser.parse_args()
    serve(host=args.host, port=args.port, workers=args.workers, worker_class=args.worker_class)  # each worker builds its app
else:
    app = create_app()  # `gunicorn flask_app:app`: built in each worker, which loads the model once
