#!/bin/sh
# Build the image on a machine that reaches PyPI and Debian but no container registry or
# PyTorch index (the project's own machines). Elsewhere, just `docker build -t torchquiz .`.
#
#   deploy/build-offline.sh [TAG]        default tag: localhost/torchquiz
#
# - The base: a minimal Debian bookworm made with debootstrap and imported into podman,
#   since no base image can be pulled.
# - torch: the CPU wheel from a local folder of wheels (WHEELS, default /opt/wheels), handed
#   to the build as the `wheels` build context; its dependencies come from PyPI.
# - TLS: the host's CA bundle (CA, default /etc/ssl/certs/ca-certificates.crt) as the `ca`
#   build secret, for networks that intercept TLS. It is not stored in the image.
set -eu

tag=${1:-localhost/torchquiz}
base=${BASE:-localhost/debian-bookworm-min}
wheels=${WHEELS:-/opt/wheels}
ca=${CA:-/etc/ssl/certs/ca-certificates.crt}
here=$(cd "$(dirname "$0")/.." && pwd)

if ! podman image exists "$base"; then
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$rootfs"
    tar -C "$rootfs" -c . | podman import - "$base"
fi

# chroot isolation: these machines' cgroup layout stops podman's OCI runtimes.
# docker format: the OCI format drops HEALTHCHECK.
exec podman build --isolation chroot --format docker \
    --build-arg BASE="$base" \
    --build-arg TORCH_INDEX=https://pypi.org/simple \
    --build-context wheels="$wheels" \
    --secret id=ca,src="$ca" \
    -t "$tag" "$here"
