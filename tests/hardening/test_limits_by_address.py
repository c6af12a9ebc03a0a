"""Limits that hold without a cookie: a client that drops its cookie is a new learner on every
request, so runs, the playground, the lab queue and new learners are also limited per client
address; the address is the socket's peer unless a trusted proxy says otherwise; and one
learner's one active lab run holds when fifteen start at once.

Against a real server, run as `torchquiz serve` runs uvicorn (app.cli.SERVER_OPTIONS), with
the suite's real runner, on SQLite and PostgreSQL. Each client connects from an address of its
own on the loopback network (127.0.0.0/8), which the server sees as the socket's peer.
"""

from __future__ import annotations

import itertools
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import uvicorn

from app.cli import SERVER_OPTIONS
from app.main import create_app
from app.runner.ratelimit import ADDRESS_BURST, ADDRESS_PER_MINUTE
from tests.conftest import _scratch_postgres, make_settings

PROXIES = "127.66.0.0/16"  # the trusted proxies of this server
CAP = 8  # new learners per address at once (then 1 a minute: none within a test)
QUEUE_SHARE = 4  # the runner's default: waiting lab jobs per address
PRACTICE = {"topic": "birnn", "mode": "practice"}
LONG_LAB_RUN = {"bidirectional": True, "hidden_size": 128, "epochs": 40}  # trains for long
SLEEPER = "import time\n\ntime.sleep(50)\n"  # advanced mode: a model that never gets built
ACTIVE = ("queued", "running")

# The runner outlives this module's servers (one per database): every test takes addresses,
# and lab seeds, that no earlier test used.
_addresses = itertools.count(1)
_seeds = itertools.count(70_000)


def fresh_address() -> str:
    n = next(_addresses)
    return f"127.77.{n // 250}.{n % 250 + 1}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, runner_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The app with a database of its own (lab runs commit from background tasks), served by
    uvicorn in a thread; yields its URL."""
    folder = tmp_path_factory.mktemp("limits")
    postgres = _scratch_postgres() if request.param == "postgresql" else None
    url = next(postgres) if postgres else f"sqlite:///{folder / 'limits.sqlite3'}"
    settings = make_settings(
        url,
        folder,
        runner_url=runner_url,
        trusted_proxies=[PROXIES],
        new_learners_burst=CAP,
        new_learners_per_minute=1,
    )
    config = uvicorn.Config(create_app(settings), **SERVER_OPTIONS | {"log_level": "warning"})
    served = uvicorn.Server(config)
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on such sockets (else 40 ms a request).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=served.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        _wait_until_ready(base, thread)
        yield base
    finally:
        served.should_exit = True
        thread.join(timeout=30)
        sock.close()
        if postgres:
            next(postgres, None)  # drops the scratch database


def _wait_until_ready(base: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + 180
    with httpx.Client(base_url=base, timeout=5) as client:
        while True:
            assert thread.is_alive(), "the server stopped during start-up"
            try:
                if client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server was not ready in 180 s"
            time.sleep(0.1)


def at(base: str, address: str) -> httpx.Client:
    """A client whose connections come from `address`."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base, transport=transport, timeout=60)


def cookieless(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """A request without the cookie an earlier answer set: a new anonymous learner."""
    client.cookies.clear()
    return client.request(method, url, **kwargs)


def until_refused(send: Callable[[], httpx.Response], most: int) -> list[httpx.Response]:
    """Every answer, up to and including the first 429 (or `most` answers)."""
    answers: list[httpx.Response] = []
    while len(answers) < most and (not answers or answers[-1].status_code != 429):
        answers.append(send())
    return answers


def assert_refused(answer: httpx.Response, limit: str) -> None:
    """429 with Retry-After, in the error shape, with a message that names the limit."""
    assert answer.status_code == 429, answer.text
    body = answer.json() if answer.headers["content-type"].startswith("application/json") else {}
    if body:
        assert body["status"] == 429 and body["code"] == "rate_limited", body
        assert limit in body["message"], body["message"]
    else:  # a page, where the message may begin a sentence
        assert limit.lower() in answer.text.lower()
    assert int(answer.headers["retry-after"]) >= 1


def codes(answers: list[httpx.Response]) -> list[int]:
    return [a.status_code for a in answers]


# --- runs and the playground ---


def test_a_cookieless_flood_of_runs_is_cut_off_by_address_while_another_address_runs(
    server: str,
) -> None:
    with at(server, fresh_address()) as flooder, at(server, fresh_address()) as bystander:
        answers = until_refused(
            lambda: cookieless(flooder, "POST", "/api/v1/runs", json={"code": "x = 1"}),
            most=2 * ADDRESS_BURST,
        )
        assert codes(answers)[:-1] == [200] * (len(answers) - 1), codes(answers)
        assert len(answers) > ADDRESS_BURST, "the whole burst is allowed"
        limit = f"too many runs from your network address ({ADDRESS_BURST} at once, then "
        assert_refused(answers[-1], limit + f"{ADDRESS_PER_MINUTE} a minute)")
        assert bystander.post("/api/v1/runs", json={"code": "x = 1"}).status_code == 200


def test_a_cookieless_flood_of_the_playground_is_cut_off_by_address_too(server: str) -> None:
    params = {"cell": "GRU", "input_shape": [3, 10]}
    with at(server, fresh_address()) as flooder, at(server, fresh_address()) as bystander:
        answers = until_refused(
            lambda: cookieless(flooder, "POST", "/api/v1/playground", json=params),
            most=8 * ADDRESS_BURST,
        )
        assert codes(answers)[:-1] == [200] * (len(answers) - 1), codes(answers)
        assert len(answers) > 4 * ADDRESS_BURST
        assert_refused(answers[-1], "too many playground requests from your network address")
        assert bystander.post("/api/v1/playground", json=params).status_code == 200


# --- the lab queue ---


def start_lab_run(client: httpx.Client, **kwargs: Any) -> httpx.Response:
    config = {**LONG_LAB_RUN, "seed": next(_seeds)}
    return client.post("/api/v1/lab/runs", json={"config": config, "task": False}, **kwargs)


def stop(client: httpx.Client, run_id: str, **kwargs: Any) -> None:
    """Cancel until the run has ended (a cancel that comes before the runner has the run
    changes nothing yet)."""
    deadline = time.monotonic() + 60
    while client.post(f"/api/v1/lab/runs/{run_id}/cancel", **kwargs).json()["status"] in ACTIVE:
        assert time.monotonic() < deadline, f"lab run {run_id} did not stop"
        time.sleep(0.2)


def test_a_cookieless_client_holds_only_its_share_of_the_lab_queue(server: str) -> None:
    address = fresh_address()
    started: list[tuple[httpx.Client, httpx.Response]] = []
    try:
        for _ in range(12):  # the queue has 8 places, and the worker takes one more
            flooder = at(server, address)  # a new client each time: no cookie, a new learner
            started.append((flooder, start_lab_run(flooder)))
            if started[-1][1].status_code == 429:
                break
        answers = [answer for _, answer in started]
        accepted = codes(answers).count(202)
        assert codes(answers) == [202] * accepted + [429], codes(answers)
        # The first may already be training, out of the queue.
        assert QUEUE_SHARE <= accepted <= QUEUE_SHARE + 1
        share = f"the lab queue holds at most {QUEUE_SHARE} waiting runs from one network address"
        assert_refused(answers[-1], share)
        bystander = at(server, fresh_address())
        started.append((bystander, start_lab_run(bystander)))
        assert started[-1][1].status_code == 202, started[-1][1].text
    finally:
        for client, answer in started:
            if answer.status_code == 202:
                stop(client, answer.json()["id"])
            client.close()


# --- one active lab run per learner, when fifteen start at once ---


@pytest.mark.parametrize("attempt", [1, 2, 3])  # a race: a few tries to lose it
def test_fifteen_simultaneous_advanced_mode_runs_by_one_learner_start_exactly_one(
    server: str, attempt: int
) -> None:
    address = fresh_address()
    with at(server, address) as learner:
        token = learner.get("/api/v1/me").json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        learner.cookies.clear()
        assert learner.post("/api/v1/sessions", json=PRACTICE, headers=bearer).status_code == 201
    ready = threading.Barrier(15)

    def start(_: int) -> httpx.Response:
        with at(server, address) as client:  # a connection of its own
            client.get("/healthz")  # connected before the barrier
            ready.wait()
            body = {"code": SLEEPER, "config": {"seed": attempt}}
            return client.post("/api/v1/lab/runs", json=body, headers=bearer)

    with ThreadPoolExecutor(15) as pool:
        answers = list(pool.map(start, range(15)))
    accepted = [a for a in answers if a.status_code == 202]
    with at(server, address) as learner:
        try:
            assert sorted(codes(answers)) == [202] + [429] * 14, codes(answers)
            for refused in answers:
                if refused.status_code == 429:
                    assert refused.json()["code"] == "run_in_progress", refused.text
                    assert "you already have a run in progress" in refused.json()["message"]
                    assert int(refused.headers["retry-after"]) >= 1
            mine = learner.get("/api/v1/lab/runs", headers=bearer).json()
            assert mine["total"] == 1 and mine["items"][0]["id"] == accepted[0].json()["id"]
        finally:
            for answer in accepted:
                stop(learner, answer.json()["id"], headers=bearer)


# --- who the client is ---


def test_x_forwarded_for_is_ignored_from_an_untrusted_peer(server: str) -> None:
    # 127.0.0.1: the peer whose forwarded headers uvicorn itself believes unless told not to.
    with at(server, "127.0.0.1") as client:
        answers = [
            cookieless(
                client,
                "POST",
                "/api/v1/sessions",
                json=PRACTICE,
                headers={"X-Forwarded-For": fresh_address(), "Forwarded": "for=10.1.2.3"},
            )
            for _ in range(CAP + 1)
        ]
    assert codes(answers) == [201] * CAP + [429], "every learner counted against the peer"
    assert_refused(answers[-1], "too many new learners from your network address")


def test_x_forwarded_for_is_honoured_from_a_trusted_proxy_read_from_the_right(
    server: str,
) -> None:
    behind, neighbour = fresh_address(), fresh_address()
    with at(server, "127.66.0.1") as proxy:

        def new_learner(forwarded_for: str) -> httpx.Response:
            headers = {"X-Forwarded-For": forwarded_for}
            return cookieless(proxy, "POST", "/api/v1/sessions", json=PRACTICE, headers=headers)

        # What the client wrote itself comes first (a new address each time); then its
        # address as the outer proxy saw it; then that proxy, also a trusted one.
        answers = [new_learner(f"{fresh_address()}, {behind}, 127.66.0.2") for _ in range(CAP + 1)]
        assert codes(answers) == [201] * CAP + [429], "all counted against the real client"
        assert_refused(answers[-1], "too many new learners from your network address")
        assert new_learner(neighbour).status_code == 201, "not against the proxy"


# --- new anonymous learners ---


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has a form"
    return found.group(1)


def test_new_anonymous_learners_are_capped_per_address_and_pages_still_answer(
    server: str,
) -> None:
    address = fresh_address()
    with at(server, address) as known, at(server, address) as client:
        assert known.post("/api/v1/sessions", json=PRACTICE).status_code == 201  # keeps its cookie
        answers = until_refused(
            lambda: cookieless(client, "POST", "/api/v1/sessions", json=PRACTICE), most=2 * CAP
        )
        assert codes(answers) == [201] * (CAP - 1) + [429]
        assert_refused(
            answers[-1], f"too many new learners from your network address ({CAP} at once"
        )

        client.cookies.clear()
        page = client.get("/topics/birnn/practice")  # reading needs no learner
        assert page.status_code == 200
        # The cookie that page set counts as a new learner as soon as it would store one.
        form = client.post("/topics/birnn/practice", data={"csrf_token": csrf(page.text)})
        assert_refused(form, "too many new learners from your network address")

        assert known.post("/api/v1/sessions", json=PRACTICE).status_code == 201, "known: no cap"
    with at(server, fresh_address()) as elsewhere:
        assert elsewhere.post("/api/v1/sessions", json=PRACTICE).status_code == 201
