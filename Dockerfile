# syntax=docker/dockerfile:1
# The REST API image. The build stage installs the locked runtime set and the wheel into a venv, /opt/venv, and prunes
# it (third-party test suites, checked by importing every package); the final stage copies only that venv and runs as
# a non-root user. /app/model and /app/data are volumes (compose.yaml: named volumes the image's user owns).
#   docker build -t spaceship-clf .
#   docker run -p 5000:5000 -v spaceship-model:/app/model spaceship-clf          # ready once a model exists
#   docker run --rm -v spaceship-model:/app/model -v spaceship-logs:/app/data -v "$PWD/data:/input:ro" spaceship-clf \
#       spaceship-clf train --dataset=/input/train.csv      # a named volume on /app/data: --rm would delete the log with it
#   docker build --build-arg EXTRAS=dask -t spaceship-clf:dask .   # also an optional extra (dask, fetch, tune)
# A data folder the user cannot write is not fatal: the log then goes to stderr only (one warning).
# tests/test_container.py builds and runs this image with podman (`--format docker`: the OCI format drops HEALTHCHECK).

FROM python:3.11-slim AS build
ARG EXTRAS=""
WORKDIR /src
ENV POETRY_VIRTUALENVS_CREATE=false
# Poetry only reads the lock here (export and build are offline): its own venv, not the runtime one
RUN python -m venv /opt/poetry && /opt/poetry/bin/pip install --no-cache-dir --quiet "poetry>=2,<3" poetry-plugin-export
COPY pyproject.toml poetry.lock README.md ./
# the runtime venv has no pip (the build stage's pip installs into it): what it holds is the locked set, nothing more
RUN /opt/poetry/bin/poetry export --only main ${EXTRAS:+--extras "$EXTRAS"} -f requirements.txt -o requirements.txt \
 && python -m venv --without-pip /opt/venv \
 && python -m pip --python /opt/venv/bin/python install --no-cache-dir --quiet --no-deps --require-hashes -r requirements.txt
COPY spaceship_clf ./spaceship_clf
COPY .ci/prune-venv ./
RUN /opt/poetry/bin/poetry build --format wheel \
 && python -m pip --python /opt/venv/bin/python install --no-cache-dir --quiet --no-deps dist/*.whl \
 && /opt/venv/bin/python prune-venv /opt/venv spaceship_clf.cli spaceship_clf.serving.server spaceship_clf.pipeline

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 app && mkdir -p /app/model /app/data && chown app:app /app/model /app/data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER app
# SPACESHIP_TRAIN_HINT: what the not-ready reason tells an operator to run, in commands that exist here
ENV PATH=/opt/venv/bin:$PATH SPACESHIP_HOME=/app SPACESHIP_HOST=0.0.0.0 SPACESHIP_PORT=5000 SPACESHIP_WORKERS=2 \
    SPACESHIP_TRAIN_HINT="docker compose run --rm train (or: spaceship-clf train --dataset=PATH)" PYTHONUNBUFFERED=1
VOLUME ["/app/model", "/app/data"]
EXPOSE 5000
# ready = model loaded and answering; urlopen raises on a 503, so the check fails until then
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
  CMD python -c "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health/ready' % os.environ['SPACESHIP_PORT'], timeout=2)"
CMD ["spaceship-clf-serve"]
