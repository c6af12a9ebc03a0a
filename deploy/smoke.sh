#!/bin/sh
# Smoke test of the built image with a real container engine:
#   1. the container starts as its non-root user with the documented flags;
#   2. deploy/sandbox_probe.py shows that the rootless sandbox's steps are allowed inside;
#   3. /healthz answers and the HEALTHCHECK reports healthy;
#   4. /readyz answers (database and runner ready), when the app has it;
#   5. POST /api/v1/runs runs print(torch.randn(2, 3)) in the sandbox.
#
#   deploy/smoke.sh [IMAGE]              default image: localhost/torchquiz
#
# ENGINE (default podman; docker works too), PORT (default 18123, on the host network so
# that nothing depends on the engine's network setup) and EXTRA_FLAGS (engine-specific run
# flags). On the project's machines podman needs
#   EXTRA_FLAGS="--runtime runc --ulimit nofile=20000:20000 --ulimit nproc=32768:32768"
# (crun refuses their hybrid cgroup layout; podman's default rlimits exceed what the host
# grants), which this script sets by itself when it sees podman without systemd.
set -eu

image=${1:-localhost/torchquiz}
engine=${ENGINE:-podman}
port=${PORT:-18123}
here=$(cd "$(dirname "$0")" && pwd)
name=torchquiz-smoke-$$

if [ -z "${EXTRA_FLAGS+x}" ] && [ "$engine" = podman ] && [ ! -d /run/systemd/system ]; then
    EXTRA_FLAGS="--runtime runc --ulimit nofile=20000:20000 --ulimit nproc=32768:32768"
fi

# The flags README.md (section "Container") documents, and nothing more.
# shellcheck disable=SC2086
"$engine" run -d --name "$name" --network host \
    --security-opt seccomp="$here/seccomp-sandbox.json" \
    --security-opt apparmor=unconfined \
    --security-opt systempaths=unconfined \
    -e TORCHQUIZ_HOST=127.0.0.1 -e TORCHQUIZ_PORT="$port" \
    ${EXTRA_FLAGS:-} "$image" >/dev/null
trap '"$engine" logs "$name" >"${TMPDIR:-/tmp}/$name.log" 2>&1; "$engine" rm -f "$name" >/dev/null 2>&1' EXIT

echo "== user in the container"
"$engine" exec "$name" id

echo "== rootless sandbox steps allowed in the container"
"$engine" exec -i "$name" python - <"$here/sandbox_probe.py"

echo "== /healthz"
url=http://127.0.0.1:$port
for _ in $(seq 120); do
    curl -fsS "$url/healthz" 2>/dev/null && break
    sleep 1
done
echo
"$engine" healthcheck run "$name" 2>/dev/null && echo "HEALTHCHECK: healthy" || true

echo "== /readyz"
for _ in $(seq 180); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz" || true)
    [ "$code" = 200 ] || [ "$code" = 404 ] && break
    sleep 1
done
if [ "$code" = 404 ]; then
    echo "404: this version of the app has no /readyz"
else
    curl -sS "$url/readyz"
    echo
fi

echo "== POST /api/v1/runs"
curl -sS -X POST -H 'content-type: application/json' \
    -d '{"code": "import torch\ntorch.manual_seed(0)\nprint(torch.randn(2, 3))"}' \
    "$url/api/v1/runs"
echo
echo "== server log: ${TMPDIR:-/tmp}/$name.log"
