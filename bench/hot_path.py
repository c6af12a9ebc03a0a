"""The hot path's optimisations, each undone in turn, beside the app as shipped.

Every optimisation on the request path is listed in `OPTIMISATIONS` below, the one place that
names them; each entry undoes one (by patching it out for the measurement, or by a setting) and
says what it buys. The requests are the busiest three (a practice question from the API, an
answer to it, the practice page), made in-process through Starlette's test client on a fresh
SQLite file with the runner off, so the figures are the app's own work per request, not the
network's. Rounds take the variants in turn, so a change in the shared machine's load falls on
each alike; each figure is the median round, beside the shipped app's in the same run.

    python bench/hot_path.py [--rounds 7] [--requests 200]

An optimisation stays only where undoing it costs at least 5% on some request (KEEP_AT_LEAST);
the wrk figures under load (bench/http_load.py) are the ones to quote for throughput.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.testclient import TestClient

from app.attempts import records
from app.core import templating
from app.core.config import Settings
from app.main import create_app
from app.questions.catalog import Catalog

KEEP_AT_LEAST = 1.05


class _Forgetful(dict[Any, Any]):
    """A cache that never keeps anything."""

    def __setitem__(self, key: Any, value: Any) -> None:
        return None


@contextlib.contextmanager
def _patched(target: Any, name: str, value: Any) -> Iterator[None]:
    old = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, old)


def _no_view_cache(self: Catalog, db: Any, version_id: int, build: Callable[..., Any]) -> Any:
    return build(self.version(db, version_id))


# name -> (what it buys, how to undo it: a context manager, or settings for a second app)
OPTIMISATIONS: dict[
    str, tuple[str, Callable[[], contextlib.AbstractContextManager[None]] | dict[str, Any]]
] = {
    "practice sessions remembered (attempts.records)": (
        "a practice session never changes, so its lookup is one query fewer per request",
        lambda: _patched(records, "_PRACTICE_SESSIONS", _Forgetful()),
    ),
    "question views built once (questions.catalog.view)": (
        "a version's public view and solution are built from its model once, not per request",
        lambda: _patched(Catalog, "view", _no_view_cache),
    ),
    "route paths formatted directly (core.templating.url_for)": (
        "a page's dozen links skip Starlette's walk over every route",
        lambda: _patched(templating, "_path_formats", lambda app: {}),
    ),
    "SQLite routes on the event loop (Settings.routes_on_loop)": (
        "no hop to a worker thread and back for sub-millisecond local queries",
        {"routes_on_loop": False},
    ),
}


def _app(instance: Path, **settings: Any) -> FastAPI:
    return create_app(
        Settings(
            environment="test",
            database_url=f"sqlite:///{instance / 'bench.sqlite3'}",
            instance_dir=instance,
            secret_key="bench-secret-key-not-for-production",
            runner_url="off",
            **settings,
        )
    )


def _requests(client: TestClient) -> dict[str, Callable[[], Any]]:
    """The three requests, for a practice session on a single-choice question."""
    body = {"topic": "birnn", "mode": "practice", "difficulty": "easy"}
    session = client.post("/api/v1/sessions", json=body).raise_for_status().json()
    api = f"/api/v1/sessions/{session['id']}"
    position = next(
        p
        for p in range(1, session["total"] + 1)
        if client.get(f"{api}/questions/{p}").json()["question"]["type"] == "single_choice"
    )
    answer = {"position": position, "answer": "A"}
    return {
        "GET practice question (API)": lambda: client.get(f"{api}/questions/{position}"),
        "POST answer (API)": lambda: client.post(f"{api}/answers", json=answer),
        "GET practice page (HTML)": lambda: client.get(f"/practice/{session['id']}/{position}"),
    }


def _per_request_ms(request: Callable[[], Any], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        request()
    return (time.perf_counter() - started) / count * 1000


def measure(rounds: int, count: int) -> dict[str, dict[str, float]]:
    """Median ms per request: variant -> request -> ms."""
    samples: dict[str, dict[str, list[float]]] = {}
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        clients = {"as shipped": stack.enter_context(TestClient(_app(folder / "shipped")))}
        for name, (_, undo) in OPTIMISATIONS.items():
            if isinstance(undo, dict):
                clients[name] = stack.enter_context(TestClient(_app(folder / name[:6], **undo)))
        requests = {name: _requests(client) for name, client in clients.items()}
        variants = ["as shipped", *OPTIMISATIONS]
        for _ in range(rounds):
            for variant in variants:
                undo = OPTIMISATIONS[variant][1] if variant in OPTIMISATIONS else None
                made = requests.get(variant, requests["as shipped"])
                with undo() if callable(undo) else contextlib.nullcontext():
                    for what, request in made.items():
                        ms = _per_request_ms(request, count)
                        samples.setdefault(variant, {}).setdefault(what, []).append(ms)
    return {v: {w: statistics.median(ms) for w, ms in by.items()} for v, by in samples.items()}


def report(figures: dict[str, dict[str, float]]) -> None:
    shipped = figures["as shipped"]
    print("ms per request, in-process (median round); each optimisation undone vs as shipped\n")
    print(f"{'':58}" + "".join(f"{w[:26]:>28}" for w in shipped))
    print(f"{'as shipped':58}" + "".join(f"{ms:>22.3f} ms   " for ms in shipped.values()))
    for name, (buys, _) in OPTIMISATIONS.items():
        cells = [figures[name][w] / shipped[w] for w in shipped]
        verdict = "pays" if max(cells) >= KEEP_AT_LEAST else "does not pay"
        print(f"without {name[:50]:50}" + "".join(f"{r:>26.2f}x  " for r in cells) + f"  {verdict}")
        print(f"    ({buys})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=200, help="per request, per round")
    args = parser.parse_args()
    report(measure(args.rounds, args.requests))


if __name__ == "__main__":
    main()
