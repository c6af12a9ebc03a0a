# torchquiz with the CPU build of torch (no CUDA libraries: about 1 GB instead of several).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TORCHQUIZ_INSTANCE_DIR=/data \
    TORCHQUIZ_HOST=0.0.0.0

WORKDIR /srv/torchquiz

# libseccomp for the code runner's system-call filter.
RUN apt-get update && apt-get install -y --no-install-recommends libseccomp2 \
    && rm -rf /var/lib/apt/lists/*

# The CPU wheel comes from PyTorch's own index; PyPI's Linux wheel of the same version is the
# CUDA build. Installed first, in its own layer, because it is the big one and rarely changes.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

COPY pyproject.toml README.md ./
COPY app ./app
COPY templates ./templates
COPY static ./static
COPY questions ./questions
# Editable, so the app finds templates/, static/ and questions/ next to its package.
RUN pip install -e . \
    && useradd --system --uid 10001 --home-dir /data torchquiz \
    && mkdir -p /data && chown torchquiz /data

USER torchquiz
VOLUME /data
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["torchquiz", "serve"]
