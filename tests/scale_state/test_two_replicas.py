"""Two app replicas (`torchquiz serve` processes) on one PostgreSQL database and one Redis: any
request may go to either. A sign-out or a token revoked on one is refused by the other at once
(not after its cache's seconds), a limit spent on one is spent on the other, and a Redis that
goes away turns the limited routes into 503s with a message, which recover by themselves when
it is back."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.accounts.support import PASSWORD
from tests.conftest import REDIS_URL, _scratch_postgres, delete_redis_keys
from tests.scale_state.support import start_redis
from tests.servers import ready, serve, stop
from tests.test_cli import free_port

LIMITS = {
    "TORCHQUIZ_SIGN_IN_BURST": "3",
    "TORCHQUIZ_SIGN_IN_PER_MINUTE": "1",
    "TORCHQUIZ_NEW_LEARNERS_BURST": "3",
    "TORCHQUIZ_NEW_LEARNERS_PER_MINUTE": "1",
}
_addresses = iter(range(1, 250))


def fresh_address() -> str:
    """Each test's clients connect from a loopback address of their own: the limits per
    address (new learners, sign-ins) are not shared between tests."""
    return f"127.88.0.{next(_addresses)}"


def client_at(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Two replicas started at once; their base URLs."""
    database = _scratch_postgres()
    url = next(database)
    prefix = f"tqtest:{uuid.uuid4().hex[:12]}:"
    env = {"TORCHQUIZ_REDIS_URL": REDIS_URL, "TORCHQUIZ_REDIS_PREFIX": prefix, **LIMITS}
    ports = [free_port(), free_port()]
    folders = [tmp_path_factory.mktemp(f"replica{i}") for i in range(2)]
    processes = [serve(f, p, url, env=env) for f, p in zip(folders, ports, strict=True)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base, process in zip(bases, processes, strict=True):
            ready(base, process)
        yield bases[0], bases[1]
    finally:
        for process in processes:
            stop(process)
        delete_redis_keys(prefix)
        next(database, None)


def sign_up(client: httpx.Client, base: str) -> str:
    email = f"{uuid.uuid4().hex[:10]}@example.org"
    body = {"email": email, "password": PASSWORD}
    answer = client.post(f"{base}/api/v1/account/sign-up", json=body)
    assert answer.status_code == 201, answer.text
    return email


def test_a_sign_out_on_one_replica_is_refused_by_the_other_at_once(
    replicas: tuple[str, str],
) -> None:
    a, b = replicas
    with client_at(fresh_address()) as browser:
        sign_up(browser, a)
        for _ in range(2):  # the second is served from b's cache of live sessions
            assert browser.get(f"{b}/api/v1/account").status_code == 200
        cookie = browser.cookies["tq_account"]
        assert browser.post(f"{a}/api/v1/account/sign-out").status_code == 204
        browser.cookies.set("tq_account", cookie)  # a stolen copy of the cookie
        refused = browser.get(f"{b}/api/v1/account")
        assert refused.status_code == 401 and refused.json()["code"] == "signed_out"


def test_a_token_revoked_on_one_replica_is_refused_by_the_other_at_once(
    replicas: tuple[str, str],
) -> None:
    a, b = replicas
    with client_at(fresh_address()) as owner, client_at(fresh_address()) as lms:
        sign_up(owner, a)
        made = owner.post(
            f"{a}/api/v1/account/tokens", json={"name": "LMS", "scopes": ["practice"]}
        )
        assert made.status_code == 201, made.text
        lms.headers["Authorization"] = f"Bearer {made.json()['token']}"
        for _ in range(2):  # the second is served from b's cache of live tokens
            assert lms.get(f"{b}/api/v1/me").status_code == 200
        revoked = owner.delete(f"{a}/api/v1/account/tokens/{made.json()['public_id']}")
        assert revoked.status_code == 204
        assert lms.get(f"{b}/api/v1/me").status_code == 401


def test_an_origin_listed_on_one_replica_is_allowed_by_the_other_at_once(
    replicas: tuple[str, str],
) -> None:
    a, b = replicas
    origin = f"https://lms-{uuid.uuid4().hex[:8]}.example.edu"
    preflight = {"Origin": origin, "Access-Control-Request-Method": "GET"}
    with client_at(fresh_address()) as owner, client_at(fresh_address()) as page:
        sign_up(owner, a)
        before = page.options(f"{b}/api/v1/me", headers=preflight)  # b reads its lists now
        assert "access-control-allow-origin" not in before.headers
        body = {"name": "LMS", "scopes": ["practice"], "allowed_origins": [origin]}
        assert owner.post(f"{a}/api/v1/account/tokens", json=body).status_code == 201
        after = page.options(f"{b}/api/v1/me", headers=preflight)
        assert after.status_code == 204 and after.headers["access-control-allow-origin"] == origin


def test_failed_sign_ins_spent_on_one_replica_are_spent_on_the_other(
    replicas: tuple[str, str],
) -> None:
    a, b = replicas
    with client_at(fresh_address()) as owner, client_at(fresh_address()) as guesser:
        email = sign_up(owner, a)
        wrong = {"email": email, "password": "not the password"}
        codes = [guesser.post(f"{base}/api/v1/account/sign-in", json=wrong) for base in (a, b, a)]
        assert [c.status_code for c in codes] == [401, 401, 401]
        for base in (b, a):
            refused = guesser.post(f"{base}/api/v1/account/sign-in", json=wrong)
            assert refused.status_code == 429, refused.text
            assert "this account" in refused.json()["message"]
            assert int(refused.headers["retry-after"]) >= 1


def test_a_tokens_rate_spent_on_one_replica_is_spent_on_the_other(
    replicas: tuple[str, str],
) -> None:
    a, b = replicas
    with client_at(fresh_address()) as owner, client_at(fresh_address()) as lms:
        sign_up(owner, a)
        body = {"name": "LMS", "scopes": ["practice"], "rate_per_minute": 2}
        made = owner.post(f"{a}/api/v1/account/tokens", json=body)
        lms.headers["Authorization"] = f"Bearer {made.json()['token']}"
        assert [lms.get(f"{base}/api/v1/me").status_code for base in (a, b)] == [200, 200]
        limited = lms.get(f"{a}/api/v1/me")
        assert limited.status_code == 429 and "2 requests a minute" in limited.json()["message"]


def test_new_learners_from_one_address_are_counted_across_replicas(
    replicas: tuple[str, str],
) -> None:
    a, b = replicas
    practice = {"topic": "birnn", "mode": "practice"}
    with client_at(fresh_address()) as classroom:
        answers = []
        for base in (a, b, a, b):
            classroom.cookies.clear()  # a new anonymous learner each time
            answers.append(classroom.post(f"{base}/api/v1/sessions", json=practice))
        assert [x.status_code for x in answers] == [201, 201, 201, 429], answers[-1].text
        assert "new learners from your network address" in answers[-1].json()["message"]


# --- Redis goes away, and comes back ---


def test_without_redis_a_limited_route_answers_503_and_recovers_when_it_is_back(
    own_redis: tuple[str, list[subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    """And a sign-out, which the other replicas could not hear, is not made: 503 too, and the
    session goes on (checked against the database while the caches cannot be told)."""
    redis_url, started = own_redis
    database = _scratch_postgres()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = serve(tmp_path, port, next(database), env={"TORCHQUIZ_REDIS_URL": redis_url})
    wrong = {"email": "nobody@example.org", "password": "not the password"}
    try:
        ready(base, app)
        with client_at(fresh_address()) as guesser, client_at(fresh_address()) as browser:
            sign_up(browser, base)
            assert guesser.post(f"{base}/api/v1/account/sign-in", json=wrong).status_code == 401
            started[0].kill()
            started[0].wait()
            down = guesser.post(f"{base}/api/v1/account/sign-in", json=wrong)
            assert down.status_code == 503, down.text
            assert down.json()["code"] == "redis_unavailable"
            assert "Redis" in down.json()["message"] and down.headers["retry-after"] == "5"
            assert guesser.get(f"{base}/api/v1/topics").status_code == 200, "unlimited: served"
            not_out = browser.post(f"{base}/api/v1/account/sign-out")
            assert not_out.status_code == 503 and not_out.json()["code"] == "redis_unavailable"
            assert browser.get(f"{base}/api/v1/account").status_code == 200
            started.append(start_redis(int(redis_url.rsplit(":", 1)[1].split("/")[0]), tmp_path))
            back = time.monotonic()
            while (
                answer := guesser.post(f"{base}/api/v1/account/sign-in", json=wrong)
            ).status_code != 401:
                assert answer.status_code == 503, answer.text
                assert time.monotonic() - back < 10, "not recovered within 10 s"
                time.sleep(0.2)
            assert browser.post(f"{base}/api/v1/account/sign-out").status_code == 204
    finally:
        stop(app)
        next(database, None)
