# syntax=docker/dockerfile:1
# torchquiz with the CPU build of torch (no CUDA libraries: about 1.4 GB instead of several).
#
# Build:  docker build -t torchquiz .
# Run:    see README.md (section "Container") (the code runner needs a seccomp profile and two
#         --security-opt flags; no --privileged) or `docker compose up`.
#
# One image, three processes (docs/deploying.md): `torchquiz serve` (the default command),
# `torchquiz runner` (the code runner as a service of its own) and `torchquiz migrate` (a
# one-shot job). It runs with a read-only root filesystem: every write goes to /data (the
# instance folder: a volume) or /tmp (a tmpfs), and HOME is /tmp.
#
# The base is an argument so that a machine without a registry can build on a local image
# (deploy/build-offline.sh); any Debian-based image with python3 and its venv module works.
ARG BASE=python:3.11-slim

# Empty unless the build passes `--build-context wheels=DIR`: a folder of wheels (the torch
# CPU wheel) that pip may take before the index, for machines that cannot reach the index.
FROM scratch AS wheels

FROM ${BASE}

# PyPI's Linux wheel of torch is the CUDA build; PyTorch's own index serves the CPU one.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0

SHELL ["/bin/sh", "-eu", "-c"]

# PYTHONDONTWRITEBYTECODE: the root may be read-only, so the bytecode is compiled at build
# time (below) instead of on first import. HOME: the one writable place every deployment has.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    TORCHQUIZ_INSTANCE_DIR=/data \
    TORCHQUIZ_HOST=0.0.0.0 \
    TORCHQUIZ_PORT=8000

# libseccomp: the code runner's system-call filter. tini: PID 1 that reaps the runner's
# orphaned children and forwards signals, so `docker stop` ends the server cleanly.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libseccomp2 tini \
    && rm -rf /var/lib/apt/lists/*

# A venv, the same on the official Python image and on a plain Debian one (whose system
# Python refuses pip installs). Its folder is bound read-only into every sandboxed run.
RUN python3 -m venv /opt/venv

# The CA secret is for networks that intercept TLS (pass the host's bundle with
# `--secret id=ca,src=...`); without it pip uses the image's own CAs. Torch gets its own
# layer because it is the big one and rarely changes.
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    --mount=type=bind,from=wheels,target=/wheels \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    pip install --find-links /wheels --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}" \
    && python -c "import sys, torch; sys.exit(torch.version.cuda is not None)"

WORKDIR /srv/torchquiz
COPY pyproject.toml README.md ./
COPY app ./app
COPY templates ./templates
COPY static ./static
COPY questions ./questions
COPY deploy/healthcheck.py ./deploy/healthcheck.py
COPY docs/statistics.md docs/lms-integration.md ./docs/

# Editable, so the app finds templates/, static/ and questions/ next to its package. The code
# stays root's: the server's user can read it but not change it.
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    pip install -e . \
    && python -m compileall -q app \
    && useradd --uid 10001 --user-group --no-create-home --home-dir /data \
        --shell /usr/sbin/nologin torchquiz \
    && mkdir -p /data \
    && chown torchquiz:torchquiz /data

# Not root: `torchquiz serve` then starts its runner in rootless mode (an unprivileged user
# namespace of its own), which needs the runtime flags in README.md (section "Container").
USER 10001:10001
VOLUME /data
EXPOSE 8000
# Liveness only (/healthz): a database outage must not get a healthy process restarted.
# Readiness (/readyz) is what compose.yaml waits on.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "/srv/torchquiz/deploy/healthcheck.py", "/healthz"]
ENTRYPOINT ["tini", "--"]
CMD ["torchquiz", "serve"]
