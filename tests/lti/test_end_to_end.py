"""LTI 1.3 end to end, over real HTTP both ways: the tool live on 127.0.0.1 (uvicorn, its own
SQLite database, routes on the event loop as in production on SQLite) and the emulated
platform on localhost. Launches as instructor and learner, the deep-linking round trip, a
score posted through the outbox, the roster over pages, and key rotation on both sides.

The tests of this file run in order, in one process, on one tool and one platform: each
builds on the course the first launch made."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select

from app.accounts.service import account_learner, start_session
from app.attempts.models import Assignment
from app.core.db import utcnow
from app.courses.models import Course, CourseStaff, Enrolment
from app.learners.identity import ACCOUNT_COOKIE
from app.learners.models import ExternalIdentity, User
from app.lti import ags, keys
from app.lti.models import LtiContext, LtiPlatform, LtiResourceLink
from app.outbox.models import OutboxMessage
from tests.conftest import BACKENDS, own_database
from tests.lti.conftest import Browser, LiveTool, live_tool_at
from tests.lti.emulator import (
    AGS_SCOPES,
    INSTRUCTOR,
    LEARNER,
    SCORE_TYPE,
    Platform,
    SigningKey,
    encode_jwt,
    form_action,
    new_rsa_key,
    parse_form,
    parse_hidden_fields,
)
from tests.lti.emulator import (
    User as LmsUser,
)

BIRNN = Path(__file__).resolve().parents[2] / "questions" / "birnn"
QUESTIONS = ("birnn-main-advantage", "bidir-live-captioning-unsuitable")
SECOND_LEARNER = LmsUser("learner-2", "Bea Second", (LEARNER.roles[0],), "bea@lms.example")
THIRD_LEARNER = LmsUser("learner-3", "Cy Third", (LEARNER.roles[0],), None)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The tool's database: SQLite (routes on the event loop) or PostgreSQL (in threads)."""
    return str(request.param)


@pytest.fixture(scope="module")
def lms(backend: str) -> Iterator[Platform]:
    """A platform per backend of the tool (its state starts afresh with each)."""
    with Platform() as platform:
        yield platform


@pytest.fixture(scope="module")
def live_tool(
    tmp_path_factory: pytest.TempPathFactory, runner_url: str, backend: str, lms: Platform
) -> Iterator[LiveTool]:
    """The tool live on the backend's own database, the platform registered with it."""
    folder = tmp_path_factory.mktemp(f"lti-tool-{backend}")
    database = contextlib.contextmanager(own_database)(backend, tmp_path_factory, "lti_e2e")
    with database as url, live_tool_at(folder, runner_url, (lms,), database_url=url) as live:
        yield live


@pytest.fixture
def browser_for() -> Iterator[Any]:
    opened: list[Browser] = []

    def new() -> Browser:
        opened.append(Browser())
        return opened[-1]

    yield new
    for b in opened:
        b.close()


def lti_launch(b: Browser, platform: Platform, user: LmsUser, **overrides: Any) -> httpx.Response:
    """The whole flow, as a browser in the LMS makes it: the platform's login initiation at
    the tool, the tool's redirect to the platform's /auth, the auto-posted id_token back to the
    tool; the tool's last answer (its redirects followed)."""
    launch = platform.launch(user, **overrides)
    to_auth = b.get(platform.login_url(launch), follow=False)
    assert to_auth.is_redirect, (to_auth.status_code, to_auth.text[:500])
    auth = b.get(str(to_auth.url.join(to_auth.headers["location"])), follow=False)
    assert auth.status_code == 200, auth.text
    form = parse_form(auth.text)
    return b.post(form.action, data={"id_token": form.id_token, "state": form.state})


def course_of(tool: LiveTool, platform: Platform) -> Course:
    with tool.transaction() as db:
        context = db.scalar(select(LtiContext).where(LtiContext.context_id == platform.context_id))
        assert context is not None, "no LTI context was recorded"
        course = db.get(Course, context.course_id)
        assert course is not None
        return course


def user_of(tool: LiveTool, platform: Platform, sub: str) -> User:
    with tool.transaction() as db:
        user = db.scalar(
            select(User)
            .join(ExternalIdentity, ExternalIdentity.user_id == User.id)
            .where(ExternalIdentity.issuer == platform.issuer, ExternalIdentity.subject == sub)
        )
        assert user is not None, f"no account for {sub}"
        return user


# --- launches ---


def test_an_instructor_launch_makes_the_course_and_puts_them_on_its_staff(
    lms: Platform, live_tool: LiveTool, browser_for: Any
) -> None:
    answer = lti_launch(browser_for(), lms, INSTRUCTOR)
    assert answer.status_code == 200, answer.text[:500]
    course = course_of(live_tool, lms)
    assert course.title == lms.context_title
    teacher = user_of(live_tool, lms, INSTRUCTOR.sub)
    assert teacher.display_name == INSTRUCTOR.name
    with live_tool.transaction() as db:
        staff = db.get(CourseStaff, (course.id, teacher.id))
        assert staff is not None and staff.data_role == "editor"
        assert db.get(Enrolment, (course.id, teacher.id)) is None
    assert f"/courses/{course.slug}" in str(answer.url)


def test_a_learner_launch_enrols_the_learner_in_the_same_course(
    lms: Platform, live_tool: LiveTool, browser_for: Any
) -> None:
    answer = lti_launch(browser_for(), lms, LEARNER)
    assert answer.status_code == 200, answer.text[:500]
    course = course_of(live_tool, lms)
    learner = user_of(live_tool, lms, LEARNER.sub)
    with live_tool.transaction() as db:
        assert db.get(Enrolment, (course.id, learner.id)) is not None
        assert db.get(CourseStaff, (course.id, learner.id)) is None
        assert db.scalar(select(Course.id).where(Course.title == lms.context_title)) == course.id


def test_the_tools_pages_may_be_framed_by_the_registered_platform_and_no_one_else(
    lms: Platform, live_tool: LiveTool
) -> None:
    for path in ("/", "/lti/jwks.json"):
        answer = httpx.get(live_tool.url + path)
        policy = answer.headers["content-security-policy"]
        found = re.search(r"frame-ancestors ([^;]*)", policy)
        assert found, policy
        ancestors = found[1].split()
        assert lms.url in ancestors and "*" not in ancestors, ancestors
        assert answer.headers.get("x-frame-options", "").upper() != "DENY"


# --- deep linking, then a graded attempt ---


def make_assignment(tool: LiveTool, course: Course, title: str) -> str:
    """An assignment of two fixed single-choice questions, any number of attempts."""
    with tool.transaction() as db:
        topic = tool.app.state.catalog.topic("birnn")
        rules = {
            "sources": ["birnn"],
            "questions": [f"birnn/{slug}" for slug in QUESTIONS],
            "feedback": "after_submission",
        }
        assignment = Assignment(course_id=course.id, topic_id=topic.id, title=title, rules=rules)
        db.add(assignment)
        db.flush()
        return assignment.public_id


def test_deep_linking_returns_a_verified_link_with_a_line_item_to_the_platform(
    lms: Platform, live_tool: LiveTool, browser_for: Any
) -> None:
    aid = make_assignment(live_tool, course_of(live_tool, lms), "Week 1 quiz")
    b = browser_for()
    picker = lti_launch(b, lms, INSTRUCTOR, message_type="LtiDeepLinkingRequest")
    assert picker.status_code == 200, picker.text[:500]
    assert re.search(r"/lti/deep-link/[^/]+$", str(picker.url)), picker.url
    assert "Week 1 quiz" in picker.text
    fields = parse_hidden_fields(picker.text)
    chosen = b.post(
        str(picker.url), data={"csrf_token": fields["csrf_token"], "item": f"assignment:{aid}"}
    )
    assert chosen.status_code == 200, chosen.text[:500]
    returned = b.post(
        form_action(chosen.text), data={"JWT": parse_hidden_fields(chosen.text)["JWT"]}
    )
    assert returned.status_code == 200, (returned.text, lms.errors)
    (item,) = lms.content_items
    assert item["type"] == "ltiResourceLink"
    assert item["custom"] == {"target": f"assignment:{aid}"}
    assert item["url"] == f"{live_tool.url}/lti/launch"
    assert item["lineItem"]["scoreMaximum"] > 0 and item["lineItem"]["label"] == "Week 1 quiz"


def right_option(slug: str) -> str:
    data = yaml.safe_load((BIRNN / f"{slug}.yaml").read_text(encoding="utf-8"))
    (right,) = [o["text"] for o in data["options"] if o.get("correct")]
    return " ".join(right.split())


def take_attempt(b: Browser, tool: LiveTool, aid: str, *, right: bool) -> None:
    """Start an attempt over the API as the launched learner, answer both questions, finish."""
    api = f"{tool.url}/api/v1"
    started = b.post(f"{api}/assignments/{aid}/attempts")
    assert started.status_code == 201, started.text
    session = started.json()["id"]
    for position in (1, 2):
        question = b.get(f"{api}/sessions/{session}/questions/{position}").json()["question"]
        options = question["options"]
        wanted = {right_option(slug) for slug in QUESTIONS}
        good = [o["label"] for o in options if " ".join(o["text"].split()) in wanted]
        assert len(good) == 1, options
        label = good[0] if right else next(o["label"] for o in options if o["label"] != good[0])
        saved = b.post(
            f"{api}/sessions/{session}/answers", json={"position": position, "answer": label}
        )
        assert saved.status_code == 200, saved.text
    finished = b.post(f"{api}/sessions/{session}/finish")
    assert finished.status_code == 200, finished.text


def wait_for(condition: Any, tool: LiveTool, what: str, timeout: float = 30) -> None:
    """Drain the tool's outbox until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        tool.drain()
        time.sleep(0.1)


def assignment_link(lms: Platform, aid: str) -> dict[str, Any]:
    """The resource link the platform made from the deep-linking response."""
    return {"target": f"assignment:{aid}", "resource_link_id": f"link-{aid}"}


def test_a_learners_submitted_attempt_score_arrives_in_the_line_item_of_the_deep_link(
    lms: Platform, live_tool: LiveTool, browser_for: Any
) -> None:
    """The platform made the link and its line item from the deep-linking response; the
    learner's launch of that link carries the line item, and the score goes there."""
    placed = lms.placed[-1]
    aid = placed.custom["target"].removeprefix("assignment:")
    items_before = len(lms.line_items)
    b = browser_for()
    landed = lti_launch(b, lms, LEARNER, **placed.launch_claims())
    assert landed.status_code == 200, landed.text[:500]
    assert str(landed.url).endswith(f"/assignments/{aid}"), landed.url
    take_attempt(b, live_tool, aid, right=True)
    wait_for(lambda: lms.scores_for(LEARNER.sub), live_tool, "the score")
    (score,) = lms.scores_for(LEARNER.sub)
    assert score["scoreGiven"] == score["scoreMaximum"] == 100
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    assert re.search(r"(\+00:00|Z)$", score["timestamp"]), score["timestamp"]
    assert score["lineitem"] == placed.lineitem
    assert len(lms.line_items) == items_before  # the tool made no second column
    with live_tool.transaction() as db:
        link = db.scalar(
            select(LtiResourceLink).where(
                LtiResourceLink.resource_link_id == placed.resource_link_id
            )
        )
        assert link is not None and link.target == f"assignment:{aid}"


def test_a_link_without_a_line_item_gets_one_made_by_the_tool(
    lms: Platform, live_tool: LiveTool, browser_for: Any
) -> None:
    """A link placed by hand (no deep linking): the tool finds none for it and makes one."""
    aid = make_assignment(live_tool, course_of(live_tool, lms), "Hand-placed quiz")
    b = browser_for()
    assert lti_launch(b, lms, THIRD_LEARNER, **assignment_link(lms, aid)).status_code == 200
    take_attempt(b, live_tool, aid, right=True)
    wait_for(lambda: lms.scores_for(THIRD_LEARNER.sub), live_tool, "the score")
    (score,) = lms.scores_for(THIRD_LEARNER.sub)
    (item,) = [i for i in lms.line_items.values() if i["id"] == score["lineitem"]]
    assert item["resourceLinkId"] == f"link-{aid}" and item["label"] == "Hand-placed quiz"


def test_a_platform_failing_three_times_gets_the_score_once_after_retries(
    lms: Platform, live_tool: LiveTool, browser_for: Any
) -> None:
    """The outbox retries 500s with backoff (the tool's outbox clock moved past each wait)."""
    course = course_of(live_tool, lms)
    aid = make_assignment(live_tool, course, "Week 2 quiz")
    b = browser_for()
    assert lti_launch(b, lms, SECOND_LEARNER, **assignment_link(lms, aid)).status_code == 200
    lms.fail_next(3, status=500, on="scores")
    tokens_before = lms.token_requests
    outbox = live_tool.app.state.outbox
    clock = outbox.clock
    try:
        skipped = timedelta()

        def later() -> Any:
            return utcnow() + skipped

        outbox.clock = later
        take_attempt(b, live_tool, aid, right=False)
        deadline = time.monotonic() + 60
        while not lms.scores_for(SECOND_LEARNER.sub):
            assert time.monotonic() < deadline, f"no score; platform errors: {lms.errors}"
            live_tool.drain()
            skipped += timedelta(hours=1)  # past any backoff
            time.sleep(0.05)
        for _ in range(3):  # nothing more comes, however long we wait
            skipped += timedelta(hours=1)
            live_tool.drain()
    finally:
        outbox.clock = clock
    failures = [
        r for r in lms.requests if r[0] == "POST" and r[1].endswith("/scores") and r[2] == 500
    ]
    assert len(failures) >= 3
    (score,) = lms.scores_for(SECOND_LEARNER.sub)
    assert score["scoreGiven"] == 0
    # The service token of the earlier score was cached: no new one for these four tries.
    assert lms.token_requests == tokens_before


def test_two_attempts_in_a_row_send_strictly_later_timestamps(
    lms: Platform, live_tool: LiveTool, browser_for: Any
) -> None:
    """Moodle answers 409 to a score not later than the last, at one-second resolution."""
    aid = make_assignment(live_tool, course_of(live_tool, lms), "Week 4 quiz")
    b = browser_for()
    assert lti_launch(b, lms, LEARNER, **assignment_link(lms, aid)).status_code == 200
    before = len(lms.scores_for(LEARNER.sub))
    take_attempt(b, live_tool, aid, right=False)
    wait_for(lambda: len(lms.scores_for(LEARNER.sub)) == before + 1, live_tool, "the first score")
    take_attempt(b, live_tool, aid, right=True)  # within the same second, most often
    wait_for(lambda: len(lms.scores_for(LEARNER.sub)) == before + 2, live_tool, "the second")
    first, second = lms.scores_for(LEARNER.sub)[before:]
    assert (first["scoreGiven"], second["scoreGiven"]) == (0, 100)
    assert datetime.fromisoformat(second["timestamp"]) > datetime.fromisoformat(first["timestamp"])
    conflicts = [r for r in lms.requests if r[1].endswith("/scores") and r[2] == 409]
    assert conflicts == [], "the tool sent a timestamp the platform had seen"
    # A worse third attempt leaves the final grade (the best) as it was: nothing is sent.
    take_attempt(b, live_tool, aid, right=False)
    wait_for(lambda: not pending_scores(live_tool), live_tool, "the third attempt's message")
    assert len(lms.scores_for(LEARNER.sub)) == before + 2


def pending_scores(tool: LiveTool) -> list[int]:
    with tool.transaction() as db:
        return list(
            db.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.kind == "ags_score", OutboxMessage.status == "pending"
                )
            )
        )


def test_a_score_for_a_learner_the_platform_does_not_know_is_refused_once_with_its_reason(
    lms: Platform, live_tool: LiveTool, browser_for: Any
) -> None:
    """Moodle answers 400 for a user outside the course: kept with the reason, not retried."""
    stranger = LmsUser("dropped-out", "Dee Dropped", (LEARNER.roles[0],), None)
    aid = make_assignment(live_tool, course_of(live_tool, lms), "Week 5 quiz")
    b = browser_for()
    assert lti_launch(b, lms, stranger, **assignment_link(lms, aid)).status_code == 200
    lms.enrolled.discard(stranger.sub)  # left the LMS course since
    take_attempt(b, live_tool, aid, right=True)

    def refused() -> list[tuple[str, str, int]]:
        return [r for r in lms.requests if r[1].endswith("/scores") and r[2] == 400]

    wait_for(lambda: bool(refused()), live_tool, "the platform's 400")
    outbox = live_tool.app.state.outbox
    clock = outbox.clock
    try:
        outbox.clock = lambda: utcnow() + timedelta(days=1)  # past any backoff
        live_tool.drain()
    finally:
        outbox.clock = clock
    assert len(refused()) == 1 and lms.scores_for(stranger.sub) == []
    with live_tool.transaction() as db:
        message = db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "ags_score")
            .order_by(OutboxMessage.id.desc())
        ).first()
        assert message is not None and message.payload["subject"] == stranger.sub
        assert (message.status, message.last_status) == ("refused", 400)
        assert "not in the course" in (message.last_error or "")


def test_a_link_with_only_its_declared_line_item_gets_the_score_there(
    lms: Platform, live_tool: LiveTool, browser_for: Any
) -> None:
    """Open edX declares one line item per link and offers no line items service."""
    aid = make_assignment(live_tool, course_of(live_tool, lms), "Week 6 quiz")
    declared = lms.add_line_item(label="Declared by the LMS", scoreMaximum=10)
    items_before = len(lms.line_items)
    ags_claim = {"scope": [AGS_SCOPES["score"]], "lineitem": declared["id"]}
    b = browser_for()
    landed = lti_launch(b, lms, LEARNER, ags=ags_claim, **assignment_link(lms, aid))
    assert landed.status_code == 200, landed.text[:500]
    before = len(lms.scores_for(LEARNER.sub))
    take_attempt(b, live_tool, aid, right=True)
    wait_for(lambda: len(lms.scores_for(LEARNER.sub)) > before, live_tool, "the score")
    assert lms.scores_for(LEARNER.sub)[-1]["lineitem"] == declared["id"]
    assert len(lms.line_items) == items_before  # nothing created


# --- the roster ---


def test_the_roster_sync_reads_every_page_and_enrols_the_learners(
    lms: Platform, live_tool: LiveTool, browser_for: Any
) -> None:
    newcomers = [
        LmsUser(f"roster-{n}", f"Roster Person{n}", (LEARNER.roles[0],), None) for n in range(3)
    ]
    lms.members = [INSTRUCTOR.member(), LEARNER.member(), *(u.member() for u in newcomers)]
    lms.page_size = 2  # three pages
    b = browser_for()
    assert lti_launch(b, lms, INSTRUCTOR).status_code == 200
    course = course_of(live_tool, lms)
    pages_before = sum(1 for r in lms.requests if r[1] == "/memberships")
    synced = b.post(f"{live_tool.url}/api/v1/courses/{course.slug}/lti/roster-sync")
    assert synced.status_code == 200, synced.text
    assert synced.json()["members"] == 5 and synced.json()["errors"] == []
    assert sum(1 for r in lms.requests if r[1] == "/memberships") - pages_before == 3
    with live_tool.transaction() as db:
        for person in newcomers:
            user = db.scalar(
                select(User)
                .join(ExternalIdentity, ExternalIdentity.user_id == User.id)
                .where(ExternalIdentity.subject == person.sub)
            )
            assert user is not None and db.get(Enrolment, (course.id, user.id)) is not None
    # One of them leaves the LMS course: the next sync unenrols them.
    lms.members[-1] = {**lms.members[-1], "status": "Inactive"}
    again = b.post(f"{live_tool.url}/api/v1/courses/{course.slug}/lti/roster-sync")
    assert again.status_code == 200 and again.json()["unenrolled"] == 1, again.text
    gone = user_of(live_tool, lms, newcomers[-1].sub)
    with live_tool.transaction() as db:
        assert db.get(Enrolment, (course.id, gone.id)) is None


# --- key rotation ---


def lms_fetched_tool_keys(tool: LiveTool) -> list[dict[str, Any]]:
    return httpx.get(f"{tool.url}/lti/jwks.json").json()["keys"]  # type: ignore[no-any-return]


def test_a_launch_signed_with_the_platforms_new_key_verifies_after_a_refetch(
    lms: Platform, live_tool: LiveTool, browser_for: Any
) -> None:
    cache = live_tool.app.state.lti_platform_keys
    fetches = cache.fetches
    lms.rotate_key()
    assert lti_launch(browser_for(), lms, LEARNER).status_code == 200
    assert cache.fetches == fetches + 1  # the new kid made the tool fetch the set again
    lms.retire_old_key()
    assert lti_launch(browser_for(), lms, LEARNER).status_code == 200


def test_the_platform_accepts_a_client_assertion_signed_with_the_tools_new_key(
    lms: Platform, live_tool: LiveTool, browser_for: Any
) -> None:
    with live_tool.transaction() as db:
        old = keys.current_key(db).kid
        new = keys.rotate(db)
    ags.TOKENS.clear()  # the cached service token would spare the platform the new assertion
    course = course_of(live_tool, lms)
    aid = make_assignment(live_tool, course, "Week 3 quiz")
    b = browser_for()
    assert lti_launch(b, lms, LEARNER, **assignment_link(lms, aid)).status_code == 200
    before = len(lms.scores_for(LEARNER.sub))
    take_attempt(b, live_tool, aid, right=True)
    wait_for(lambda: len(lms.scores_for(LEARNER.sub)) > before, live_tool, "the score")
    assert lms.assertion_kids[-1] == new and old != new
    assert new in [k["kid"] for k in lms_fetched_tool_keys(live_tool)]
    with live_tool.transaction() as db:
        keys.retire(db, old)
    published = httpx.get(f"{live_tool.url}/lti/jwks.json").json()["keys"]
    assert [k["kid"] for k in published] == [new]


# --- the outbox survives a restart ---


def test_a_score_not_yet_sent_when_the_tool_stops_is_sent_after_it_starts_again(
    lms: Platform,
    live_tool: LiveTool,
    tmp_path_factory: pytest.TempPathFactory,
    runner_url: str,
    browser_for: Any,
) -> None:
    """The grade is in the database (the outbox) from the submit on, not in a process."""
    folder = tmp_path_factory.mktemp("lti-restart")
    try:
        with live_tool_at(folder, runner_url, (lms,)) as first:
            assert lti_launch(browser_for(), lms, INSTRUCTOR).status_code == 200
            aid = make_assignment(first, course_of(first, lms), "Before the restart")
            b = browser_for()
            assert lti_launch(b, lms, LEARNER, **assignment_link(lms, aid)).status_code == 200
            # Its deliverer sees nothing due: as if the process died before it could post.
            first.app.state.outbox.clock = lambda: utcnow() - timedelta(days=1)
            before = len(lms.scores_for(LEARNER.sub))
            take_attempt(b, first, aid, right=True)
            time.sleep(0.5)
            assert len(lms.scores_for(LEARNER.sub)) == before
            with first.transaction() as db:
                waiting = db.scalars(
                    select(OutboxMessage.status).where(OutboxMessage.kind == "ags_score")
                ).all()
                assert waiting == ["pending"]
        with live_tool_at(folder, runner_url) as second:
            lms.use_tool(second.url)
            wait_for(lambda: len(lms.scores_for(LEARNER.sub)) > before, second, "the score")
            time.sleep(0.5)
            second.drain()
            new = lms.scores_for(LEARNER.sub)[before:]
            assert [s["scoreGiven"] for s in new] == [100]
    finally:
        lms.use_tool(live_tool.url)


def test_a_learner_first_into_an_lms_course_is_enrolled_not_made_its_owner(
    lms: Platform, live_tool: LiveTool, browser_for: Any
) -> None:
    context = {"id": "course-202", "title": "Learner-first course"}
    answer = lti_launch(browser_for(), lms, THIRD_LEARNER, context=context)
    assert answer.status_code == 200, answer.text[:500]
    learner = user_of(live_tool, lms, THIRD_LEARNER.sub)
    with live_tool.transaction() as db:
        row = db.scalar(select(LtiContext).where(LtiContext.context_id == "course-202"))
        assert row is not None
        course = db.get(Course, row.course_id)
        assert course is not None and course.title == "Learner-first course"
        assert db.get(Enrolment, (course.id, learner.id)) is not None
        assert db.scalars(select(CourseStaff).where(CourseStaff.course_id == course.id)).all() == []


# --- dynamic registration ---


def signed_in_admin(b: Browser, tool: LiveTool) -> str:
    """A site administrator's session in `b` (as a sign-in would start it); their CSRF token."""
    with tool.transaction() as db:
        admin = User(email="admin@tool.example", display_name="Admin", site_role="admin")
        db.add(admin)
        db.flush()
        token = start_session(db, admin, timedelta(hours=1))
        learner = account_learner(db, admin).public_id
    tokens = tool.app.state.tokens
    b.cookies(tool.url)[ACCOUNT_COOKIE] = tokens.issue_account(token, learner)
    return str(tokens.csrf_token(learner))


def test_an_lms_registers_the_tool_dynamically_and_then_launches_into_it(
    live_tool: LiveTool, browser_for: Any
) -> None:
    with Platform(client_id="not-yet-known", deployment_ids=[]) as moodle:
        b = browser_for()
        csrf = signed_in_admin(b, live_tool)
        page = b.get(moodle.registration_url(live_tool.url))
        assert page.status_code == 200, page.text[:500]
        fields = parse_hidden_fields(page.text)
        assert fields["registration_token"] == moodle.registration_token
        action = str(page.url.join(form_action(page.text)))
        done = b.post(action, data={**fields, "csrf_token": csrf})
        assert done.status_code == 200, (done.text[:800], moodle.errors)
        (sent,) = moodle.registrations
        assert sent["jwks_uri"] == f"{live_tool.url}/lti/jwks.json"
        assert sent["initiate_login_uri"] == f"{live_tool.url}/lti/login"
        assert moodle.registration_token is None  # used up
        with live_tool.transaction() as db:
            row = db.scalar(select(LtiPlatform).where(LtiPlatform.issuer == moodle.issuer))
            assert row is not None and row.client_id == moodle.client_id
            assert row.deployment_ids == moodle.deployment_ids
            assert row.jwks_url == f"{moodle.url}/jwks" and row.active
        answer = lti_launch(browser_for(), moodle, LEARNER)
        assert answer.status_code == 200, answer.text[:500]


# --- the emulator keeps a real platform's rules (what the tests above rely on) ---


@pytest.fixture
def bare_lms() -> Iterator[tuple[Platform, SigningKey]]:
    """A platform whose tool's JWKS is a key of the test's own (no tool needed)."""
    key = SigningKey("tool-key", new_rsa_key())
    with Platform() as platform:
        platform.tool_jwks = lambda: {"keys": [key.jwk()]}
        yield platform, key


def assertion(platform: Platform, key: SigningKey, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": platform.client_id,
        "sub": platform.client_id,
        "aud": platform.token_url,
        "iat": now,
        "exp": now + 300,
        "jti": str(now) + key.kid + str(changes),
    } | changes
    return encode_jwt(claims, alg="RS256", header={"kid": key.kid}, key=key.private)


def service_token(platform: Platform, token: str, scopes: str) -> httpx.Response:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": token,
        "scope": scopes,
    }
    return httpx.post(platform.token_url, data=form)


def test_the_emulators_token_endpoint_checks_the_client_assertion(
    bare_lms: tuple[Platform, SigningKey],
) -> None:
    lms, key = bare_lms
    scope = AGS_SCOPES["score"]
    good = assertion(lms, key)
    assert service_token(lms, good, scope).status_code == 200
    assert service_token(lms, good, scope).status_code == 401  # its jti, used
    assert service_token(lms, assertion(lms, key, aud="elsewhere"), scope).status_code == 400
    assert service_token(lms, assertion(lms, key, iss="other"), scope).status_code == 401
    stranger = SigningKey("tool-key", new_rsa_key())  # the same kid, another key
    assert service_token(lms, assertion(lms, stranger), scope).status_code == 400
    assert lms.token_requests == 5


def test_the_emulators_scores_follow_moodles_rules(bare_lms: tuple[Platform, SigningKey]) -> None:
    lms, key = bare_lms
    token = service_token(lms, assertion(lms, key), AGS_SCOPES["score"]).json()["access_token"]
    item = lms.add_line_item(label="Quiz", scoreMaximum=100)

    def post(score: dict[str, Any], bearer: str = token) -> int:
        headers = {"authorization": f"Bearer {bearer}", "content-type": SCORE_TYPE}
        answer = httpx.post(f"{item['id']}/scores", json=score, headers=headers)
        return answer.status_code

    base = {
        "userId": LEARNER.sub,
        "scoreGiven": 5,
        "scoreMaximum": 10,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": "2026-01-01T10:00:00+00:00",
    }
    assert post(base, bearer="made-up") == 401
    assert post(base) == 204
    assert post(base | {"timestamp": "2026-01-01T10:00:00.900+00:00"}) == 409  # same second
    assert post(base | {"timestamp": "2026-01-01T10:00:01+00:00"}) == 204
    assert post(base | {"timestamp": "2026-01-01T10:00:05"}) == 400  # no zone
    assert post(base | {"userId": "stranger", "timestamp": "2026-01-01T11:00:00Z"}) == 400
    lms.fail_next(1, status=503)
    assert post(base | {"timestamp": "2026-01-01T12:00:00Z"}) == 503
    assert post(base | {"timestamp": "2026-01-01T12:00:00Z"}) == 204
    assert [s["timestamp"][11:19] for s in lms.scores] == ["10:00:00", "10:00:01", "12:00:00"]
