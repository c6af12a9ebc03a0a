"""The app's own Prometheus metrics, defined once here and updated where things happen (the
runner's client, the lab, the outbox). Served at /metrics with the HTTP metrics of
prometheus-fastapi-instrumentator. Names follow Prometheus' conventions: a unit suffix, a
`_total` suffix on counters."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# A run's end, by kind (snippet, check, lab_code, playground, training...) and outcome: "ok",
# "error" (the learner's code raised), "limit" (a sandbox limit stopped it), "refused" (429 or
# 503 before it ran), "failed" (the runner could not make it).
RUNS = Counter("torchquiz_runs_total", "Runs by kind and outcome.", ["kind", "outcome"])
# Which sandbox limit stopped a run (time, memory, output, processes...).
RUN_LIMITS = Counter("torchquiz_run_limits_total", "Runs stopped by a limit.", ["kind", "limit"])
# From the request to the result, queueing included.
RUN_SECONDS = Histogram(
    "torchquiz_run_seconds",
    "Run latency, from the request to its result.",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
TRAINING_ACTIVE = Gauge("torchquiz_training_runs_active", "Lab runs queued or running.")
