# The project's image with a promoted model store inside: what the retrain workflow pushes, tagged with the version.
#   docker build -f .ci/model.Dockerfile --build-arg IMAGE=spaceship-clf:latest -t spaceship-clf:model-VERSION model/
# The build context is the model store (CURRENT and versions/). Run the image without a volume on /app/model (or with
# a new one): an existing named volume would shadow the model inside.
ARG IMAGE=spaceship-clf:latest
FROM ${IMAGE}
COPY --chown=10001:10001 . /app/model/
