# syntax=docker/dockerfile:1
# The REST API image: build the wheel and the locked runtime wheels in one stage, install only those in a slim,
# non-root final stage. /app/model and /app/data are volumes (compose.yaml: named volumes the image's user owns).
#   docker build -t spaceship-clf .
#   docker run -p 5000:5000 -v spaceship-model:/app/model spaceship-clf          # ready once a model exists
#   docker run --rm -v spaceship-model:/app/model -v "$PWD/data:/input:ro" spaceship-clf spaceship-clf train --dataset=/input/train.csv
# A data folder the user cannot write is not fatal: the log then goes to stderr only (one warning).
# tests/test_wheel.py runs the same install and start commands in a clean venv (no Docker engine on our CI machines).

FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir "poetry>=2,<3" poetry-plugin-export
COPY pyproject.toml poetry.lock README.md ./
COPY spaceship_clf ./spaceship_clf
RUN poetry export --only main -f requirements.txt -o requirements.txt \
 && poetry build --format wheel \
 && pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt \
 && cp dist/*.whl /wheels/

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels spaceship-clf && rm -rf /wheels
WORKDIR /app
RUN mkdir -p /app/model /app/data && chown app:app /app/model /app/data
USER app
ENV SPACESHIP_HOME=/app SPACESHIP_HOST=0.0.0.0 SPACESHIP_PORT=5000 SPACESHIP_WORKERS=2 PYTHONUNBUFFERED=1
VOLUME ["/app/model", "/app/data"]
EXPOSE 5000
# ready = model loaded and answering; urlopen raises on a 503, so the check fails until then
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health/ready' % os.environ['SPACESHIP_PORT'], timeout=2)"
CMD ["spaceship-clf-serve"]
