#!/bin/sh
# Smoke test of the built image with a real container engine, every container with a read-only
# root (its writes: a tmpfs on /tmp and a volume on /data), as the deployments run it:
#   1. serve (one container, its own rootless runner): the non-root user; HOME and a read-only
#      root; deploy/sandbox_probe.py (the rootless sandbox's steps are allowed inside); /healthz
#      and the HEALTHCHECK; /readyz (database and runner ready); POST /api/v1/runs runs
#      print(torch.randn(2, 3)) in the sandbox;
#   2. migrate (when POSTGRES is set): `torchquiz migrate` against a scratch database made
#      here (and dropped at the end);
#   3. runner (when REDIS is set too): `torchquiz runner` alone (no capabilities, no privilege
#      escalation), taking jobs from Redis, and an app that sends it runs through the queue
#      (TORCHQUIZ_RUNNER_URL=redis://...) on the migrated database: /readyz, then
#      POST /api/v1/runs answered by the runner container, and the queue's job counter.
#
#   deploy/smoke.sh [IMAGE]              default image: localhost/torchquiz
#
# ENGINE (default podman; docker works too), PORT (default 18123; the containers use the host
# network so that nothing depends on the engine's network setup), POSTGRES (a server URL
# without a database, whose user may create databases, e.g. postgresql://postgres@127.0.0.1:5432),
# REDIS (e.g. redis://127.0.0.1:6379/0; keys under a prefix of this run's own, deleted at the
# end) and EXTRA_FLAGS (engine-specific run flags). On the project's machines podman needs
#   EXTRA_FLAGS="--runtime runc --ulimit nofile=20000:20000 --ulimit nproc=32768:32768"
# (crun refuses their hybrid cgroup layout; podman's default rlimits exceed what the host
# grants), which this script sets by itself when it sees podman without systemd.
set -eu

image=${1:-localhost/torchquiz}
engine=${ENGINE:-podman}
port=${PORT:-18123}
here=$(cd "$(dirname "$0")" && pwd)
name=torchquiz-smoke-$$
logs=${TMPDIR:-/tmp}
url=http://127.0.0.1:$port
started=$(date +%s)

if [ -z "${EXTRA_FLAGS+x}" ] && [ "$engine" = podman ] && [ ! -d /run/systemd/system ]; then
    EXTRA_FLAGS="--runtime runc --ulimit nofile=20000:20000 --ulimit nproc=32768:32768"
fi

containers=""
database=""
cleanup() {
    for c in $containers; do
        "$engine" logs "$c" >"$logs/$c.log" 2>&1 || true
        "$engine" rm -f "$c" >/dev/null 2>&1 || true
    done
    "$engine" volume rm -f "$name" >/dev/null 2>&1 || true
    if [ -n "$database" ]; then
        psql -q "$POSTGRES/postgres" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" || true
    fi
    if [ -n "${REDIS:-}" ]; then
        redis-cli -u "$REDIS" --scan --pattern "$name:*" | xargs -r redis-cli -u "$REDIS" del >/dev/null
    fi
}
trap cleanup EXIT

# A container of the image with a read-only root, as the manifests run it. The three
# --security-opt flags are the ones README.md (section "Container") documents, and nothing more.
start() {
    container=$1
    shift
    containers="$containers $container"
    # shellcheck disable=SC2086
    "$engine" run -d --name "$container" --network host --read-only \
        --tmpfs /tmp -v "$name:/data" \
        --security-opt seccomp="$here/seccomp-sandbox.json" \
        --security-opt apparmor=unconfined \
        --security-opt systempaths=unconfined \
        ${EXTRA_FLAGS:-} "$@" >/dev/null
}

# Wait until URL answers 200 (at most $2 seconds), then print its body.
wait_for() {
    for _ in $(seq "$2"); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" = 200 ]; then
            curl -sS "$1"
            echo
            return 0
        fi
        sleep 1
    done
    echo "no 200 from $1 within $2 s"
    curl -sS "$1" || true
    echo
    return 1
}

run_code() {
    curl -sS -X POST -H 'content-type: application/json' \
        -d '{"code": "import torch\ntorch.manual_seed(0)\nprint(torch.randn(2, 3))"}' \
        "$1/api/v1/runs"
    echo
}

echo "== 1. serve, with its own runner"
start "$name-serve" -e TORCHQUIZ_HOST=127.0.0.1 -e TORCHQUIZ_PORT="$port" "$image"

echo "== user, HOME and the read-only root"
"$engine" exec "$name-serve" id
"$engine" exec "$name-serve" sh -c 'echo "HOME=$HOME"; touch /srv/torchquiz/x 2>&1 || true; touch /tmp/x /data/x && echo "/tmp and /data: writable"'

echo "== rootless sandbox steps allowed in the container"
"$engine" exec -i "$name-serve" python - <"$here/sandbox_probe.py"

echo "== /healthz"
wait_for "$url/healthz" 120
"$engine" healthcheck run "$name-serve" 2>/dev/null && echo "HEALTHCHECK: healthy" || true

echo "== /readyz"
wait_for "$url/readyz" 180

echo "== POST /api/v1/runs"
run_code "$url"
echo "== changes to the root (only the engine's own /etc/hosts and resolv.conf):"
"$engine" diff "$name-serve"
"$engine" rm -f "$name-serve" >/dev/null
echo "serve: $(($(date +%s) - started)) s so far"

[ -n "${POSTGRES:-}" ] || exit 0

echo "== 2. migrate, against a scratch database"
database=torchquiz_smoke_$$
psql -q "$POSTGRES/postgres" -c "CREATE DATABASE $database"
# shellcheck disable=SC2086
"$engine" run --rm --network host --read-only --tmpfs /tmp ${EXTRA_FLAGS:-} \
    -e TORCHQUIZ_DATABASE_URL="$POSTGRES/$database" "$image" torchquiz migrate
echo "tables: $(psql -tA "$POSTGRES/$database" -c "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")"

[ -n "${REDIS:-}" ] || exit 0

echo "== 3. a runner taking jobs from Redis, and an app sending them there"
# As compose.scale.yaml runs it: every capability dropped, no privilege escalation.
start "$name-runner" --cap-drop ALL --security-opt no-new-privileges \
    -e TORCHQUIZ_RUNNER_QUEUE="$REDIS" \
    -e TORCHQUIZ_RUNNER_REDIS_PREFIX="$name:" -e TORCHQUIZ_RUNNER_PORT=$((port + 1)) \
    "$image" torchquiz runner
wait_for "http://127.0.0.1:$((port + 1))/healthz" 120
start "$name-app" -e TORCHQUIZ_HOST=127.0.0.1 -e TORCHQUIZ_PORT="$port" \
    -e TORCHQUIZ_DATABASE_URL="$POSTGRES/$database" -e TORCHQUIZ_SECRET_KEY=smoke \
    -e TORCHQUIZ_REDIS_URL="$REDIS" -e TORCHQUIZ_REDIS_PREFIX="$name:" \
    -e TORCHQUIZ_RUNNER_URL="$REDIS" "$image"
wait_for "$url/readyz" 180
run_code "$url"
# The queue's job id counter (app/runner/queue.py): one per job the app put in a stream.
echo "jobs through the queue: $(redis-cli -u "$REDIS" GET "$name:runner:ids")"
echo "smoke test: $(($(date +%s) - started)) s"
