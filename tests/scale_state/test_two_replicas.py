"""Two app replicas (`torchquiz serve` processes) on one PostgreSQL database and one Redis: any
request may go to either. A sign-out or a token revoked on one (or by `torchquiz tokens revoke`)
is refused by the other at once (not after its cache's seconds), a limit spent on one is spent
on the other, a course's practice and an import preview made on one are served and confirmed
by the other, and a Redis that goes away turns the limited routes into 503s with a message,
which recover by themselves when it is back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.authoring import bank
from app.authoring.models import CourseImport
from app.bank.formats import yaml_zip
from app.bank.verification.claim import Verification as VerifyResult
from app.core.db import Database, create_db_engine, utcnow
from app.courses.models import Course
from app.questions.models import QuestionRow
from tests.accounts.support import PASSWORD
from tests.authoring.test_course_practice import numeric
from tests.conftest import REDIS_URL, _scratch_postgres, delete_redis_keys
from tests.pages.test_pages_without_js import csrf
from tests.scale_state.support import start_redis
from tests.servers import PROJECT, ready, serve, stop
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
def site() -> Iterator[dict[str, str]]:
    """What the replicas share: the database and the Redis prefix (TORCHQUIZ_ variables)."""
    database = _scratch_postgres()
    prefix = f"tqtest:{uuid.uuid4().hex[:12]}:"
    try:
        yield {
            "TORCHQUIZ_DATABASE_URL": next(database),
            "TORCHQUIZ_REDIS_URL": REDIS_URL,
            "TORCHQUIZ_REDIS_PREFIX": prefix,
        }
    finally:
        delete_redis_keys(prefix)
        next(database, None)


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, site: dict[str, str]
) -> Iterator[tuple[str, str]]:
    """Two replicas started at once; their base URLs."""
    url = site["TORCHQUIZ_DATABASE_URL"]
    env = {**site, **LIMITS}
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


@pytest.fixture(scope="module")
def database(site: dict[str, str]) -> Iterator[Database]:
    """The replicas' database, for what a test arranges or checks behind their back."""
    engine = create_db_engine(site["TORCHQUIZ_DATABASE_URL"])
    yield Database.on(engine)
    engine.dispose()


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


def test_a_cli_revoke_is_refused_by_both_replicas_at_once(
    replicas: tuple[str, str], site: dict[str, str]
) -> None:
    with client_at(fresh_address()) as owner, client_at(fresh_address()) as lms:
        sign_up(owner, replicas[0])
        made = owner.post(
            f"{replicas[0]}/api/v1/account/tokens", json={"name": "LMS", "scopes": ["practice"]}
        )
        lms.headers["Authorization"] = f"Bearer {made.json()['token']}"
        for base in (*replicas, *replicas):  # the second round from each one's cache
            assert lms.get(f"{base}/api/v1/me").status_code == 200
        env = {
            **os.environ,
            **site,
            "TORCHQUIZ_SECRET_KEY": "served-test-key-not-for-production",
            "TORCHQUIZ_ENVIRONMENT": "test",
        }
        command = [sys.executable, "-m", "app.cli", "tokens", "revoke", made.json()["public_id"]]
        revoked = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True)
        assert revoked.returncode == 0, revoked.stderr
        assert "revoked the token" in revoked.stdout and "warning" not in revoked.stderr
        told = time.monotonic()
        assert [lms.get(f"{base}/api/v1/me").status_code for base in replicas] == [401, 401]
        assert time.monotonic() - told < 1.0  # not the caches' 5 s


# --- a course's bank: its practice and its imports, on either replica ---


def make_course(owner: httpx.Client, base: str, database: Database, *qids: str) -> str:
    """A course owned by `owner`, with draft questions `qids`, each verified (recorded as
    passed behind the replicas' back: their runners are off); its slug."""
    made = owner.post(f"{base}/api/v1/courses", json={"title": f"Course {uuid.uuid4().hex[:6]}"})
    assert made.status_code == 201, made.text
    slug = str(made.json()["slug"])
    for qid in qids:
        body = numeric(qid, 1).model_dump(mode="json")
        created = owner.post(f"{base}/api/v1/courses/{slug}/questions", json=body)
        assert created.status_code == 201, created.text
    with database.transaction() as db:
        course = db.scalar(select(Course).where(Course.slug == slug))
        for row in db.scalars(select(QuestionRow).where(QuestionRow.course_id == course.id)):
            version = bank.version_of(db, row)
            result = VerifyResult(row.slug, [])
            bank.record_verification(db, version, result, seeds=20, torch="test", run_by=None)
    return slug


def start_course_practice(browser: httpx.Client, base: str, slug: str) -> dict[str, Any]:
    """A practice of the course started from its page on `base`: the session, by the API."""
    page = browser.get(f"{base}/courses/{slug}/practice")
    assert page.status_code == 200, page.text
    started = browser.post(f"{base}/courses/{slug}/practice", data={"csrf_token": csrf(page.text)})
    assert started.status_code == 303, started.text
    session_id = started.headers["location"].split("/")[-2]
    session = browser.get(f"{base}/api/v1/sessions/{session_id}")
    assert session.status_code == 200, session.text
    return dict(session.json())


def settle() -> None:
    """After a change, a replica keeps nothing it reads for SETTLING_SECONDS: past them, what
    it reads is kept, so what follows checks that the next change reaches it."""
    time.sleep(2.2)


def test_a_course_practice_and_each_publish_or_retire_on_one_replica_reach_the_other(
    replicas: tuple[str, str], database: Database
) -> None:
    a, b = replicas
    with client_at(fresh_address()) as owner:
        sign_up(owner, a)
        slug = make_course(owner, a, database, "one", "two")
        assert owner.post(f"{a}/api/v1/courses/{slug}/questions/one/publish").status_code == 200
        settle()
        session = start_course_practice(owner, a, slug)  # b never served this course yet
        assert session["total"] == 1
        on_b = owner.get(f"{b}/api/v1/sessions/{session['id']}/questions/1")
        assert on_b.status_code == 200, on_b.text
        assert owner.get(f"{b}/practice/{session['id']}/1").status_code == 200
        assert start_course_practice(owner, b, slug)["total"] == 1  # kept by b now
        assert owner.post(f"{a}/api/v1/courses/{slug}/questions/two/publish").status_code == 200
        assert start_course_practice(owner, b, slug)["total"] == 2
        settle()
        assert start_course_practice(owner, b, slug)["total"] == 2  # kept by b again
        assert owner.post(f"{a}/api/v1/courses/{slug}/questions/one/retire").status_code == 200
        last = start_course_practice(owner, b, slug)
        assert last["total"] == 1
        shown = owner.get(f"{b}/api/v1/sessions/{last['id']}/questions/1").json()
        assert shown["question"]["id"] == "two"


def upload(owner: httpx.Client, base: str, slug: str, *qids: str) -> httpx.Response:
    data = yaml_zip.export([numeric(q, 2) for q in qids], bank_name="imported").data
    return owner.post(
        f"{base}/api/v1/courses/{slug}/imports",
        params={"format": "yaml"},
        files={"file": ("bank.zip", data, "application/octet-stream")},
    )


def test_an_import_previewed_on_one_replica_is_confirmed_on_the_other_once(
    replicas: tuple[str, str], database: Database
) -> None:
    a, b = replicas
    with client_at(fresh_address()) as owner:
        sign_up(owner, a)
        slug = make_course(owner, a, database, "kept")
        elsewhere = make_course(owner, a, database)
        preview = upload(owner, a, slug, "kept", "new")
        assert preview.status_code == 201, preview.text
        import_id = preview.json()["import_id"]
        foreign = owner.post(f"{b}/api/v1/courses/{elsewhere}/imports/{import_id}")
        assert foreign.status_code == 404 and foreign.json()["field"] == "import_id"
        confirmed = owner.post(f"{b}/api/v1/courses/{slug}/imports/{import_id}")
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json() == {"created": ["new"], "changed": ["kept"], "unchanged": []}
        again = owner.post(f"{a}/api/v1/courses/{slug}/imports/{import_id}")
        assert again.status_code == 404 and again.json()["field"] == "import_id"
        assert import_id in again.json()["message"]


def test_an_expired_import_or_one_whose_bank_changed_is_refused_on_the_other_replica(
    replicas: tuple[str, str], database: Database
) -> None:
    a, b = replicas
    with client_at(fresh_address()) as owner:
        sign_up(owner, a)
        slug = make_course(owner, a, database, "kept")
        expired = upload(owner, a, slug, "late").json()["import_id"]
        with database.transaction() as db:
            db.execute(
                update(CourseImport)
                .where(CourseImport.import_id == expired)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        late = owner.post(f"{b}/api/v1/courses/{slug}/imports/{expired}")
        assert late.status_code == 404 and late.json()["field"] == "import_id"
        stale = upload(owner, a, slug, "fresh").json()["import_id"]
        body = numeric("meanwhile", 1).model_dump(mode="json")
        assert owner.post(f"{a}/api/v1/courses/{slug}/questions", json=body).status_code == 201
        changed = owner.post(f"{b}/api/v1/courses/{slug}/imports/{stale}")
        assert changed.status_code == 409 and changed.json()["field"] == "import"
        with database.transaction() as db:  # refused, so rolled back: the preview still waits
            assert _waiting(db, stale)


def _waiting(db: Session, import_id: str) -> bool:
    return db.scalar(select(CourseImport.id).where(CourseImport.import_id == import_id)) is not None


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
