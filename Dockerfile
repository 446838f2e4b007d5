# kaggle-kit in a container. CPU by default; for a GPU build:
#   docker build --build-arg TF_TAG=2.21.0-gpu -t kaggle-kit:gpu .
# Volumes: /data (competition data and caches), /runs (training runs),
# /submissions (CSVs), and your Kaggle credentials mounted read-only at /root/.kaggle.
ARG TF_TAG=2.21.0
FROM tensorflow/tensorflow:${TF_TAG}

LABEL org.opencontainers.image.title="kaggle-kit" \
      org.opencontainers.image.version="0.1.0"

WORKDIR /opt/kaggle-kit
COPY pyproject.toml README.md ./
COPY kaggle_kit ./kaggle_kit
RUN pip install --no-cache-dir .

ENV KIT_DATA_DIR=/data \
    KIT_RUNS_DIR=/runs \
    KIT_SUBMISSIONS_DIR=/submissions \
    KAGGLE_CONFIG_DIR=/root/.kaggle
VOLUME ["/data", "/runs", "/submissions"]
WORKDIR /work
ENTRYPOINT ["kit"]
CMD ["--help"]
