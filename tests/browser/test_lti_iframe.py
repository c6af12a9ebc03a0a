"""LTI in a real browser: the emulated LMS's course page (http://localhost:<port>) embeds the
tool (http://127.0.0.1:<port>, another site) in an iframe; the launch completes inside the
frame (the state cookie is SameSite=None, Secure, Partitioned), the learner starts the
assignment, answers and submits inside the frame, and the score arrives at the LMS.

Each document the frame loads is checked with axe (light and dark), as CheckedPage checks a
top-level page; the LMS's own page is the emulator's, not ours, and is not checked."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from browser_support import (
    _RUN_AXE,
    AXE_PATH,
    AXE_TAGS,
    SCHEMES,
    TIMEOUT_MS,
    AccessibilityError,
    format_violations,
)
from playwright.sync_api import Browser, ConsoleMessage, Frame, FrameLocator, Page, expect
from sqlalchemy import select

from app.attempts.models import Assignment
from app.courses.models import Course
from app.lti.models import LtiContext
from tests.lti.conftest import Browser as HttpBrowser
from tests.lti.conftest import LiveTool, live_tool_at
from tests.lti.emulator import INSTRUCTOR, LEARNER, Platform, parse_form

pytestmark = pytest.mark.browser

BIRNN = Path(__file__).resolve().parents[2] / "questions" / "birnn"
QUESTIONS = ("birnn-main-advantage", "bidir-live-captioning-unsuitable")


def right_option_words(slug: str) -> str:
    data = yaml.safe_load((BIRNN / f"{slug}.yaml").read_text(encoding="utf-8"))
    (right,) = [o["text"] for o in data["options"] if o.get("correct")]
    return " ".join(right.replace("`", "").split()[:8])


RIGHT = [right_option_words(slug) for slug in QUESTIONS]


@pytest.fixture(scope="module")
def lms() -> Iterator[Platform]:
    with Platform() as platform:
        yield platform


@pytest.fixture(scope="module")
def tool(
    tmp_path_factory: pytest.TempPathFactory, runner_url: str, axe_source: str, lms: Platform
) -> Iterator[LiveTool]:
    folder = tmp_path_factory.mktemp("lti-browser")
    with live_tool_at(folder, runner_url, (lms,), axe=(AXE_PATH, axe_source)) as live:
        yield live


class FrameChecks:
    """axe on each document the tool's frame loads, and no CSP violation anywhere."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.csp: list[str] = []
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "frame-ancestors" in message.text:
            self.csp.append(message.text)

    def check(self, frame: Frame, what: str) -> None:
        frame.wait_for_load_state("load")
        if frame.evaluate("typeof window.axe === 'undefined'"):
            frame.add_script_tag(url=AXE_PATH)
        reports = []
        try:
            for scheme in SCHEMES:
                self.page.emulate_media(color_scheme=scheme)
                violations = frame.evaluate(_RUN_AXE, AXE_TAGS)
                if violations:
                    reports.append(format_violations(f"{frame.url} [{what}]", scheme, violations))
        finally:
            self.page.emulate_media(color_scheme="light")
        if self.csp:
            reports.append("the Content-Security-Policy blocked:\n" + "\n".join(self.csp))
        if reports:
            raise AccessibilityError("\n\n".join(reports))


def tool_frame(page: Page) -> Frame:
    frame = page.frame(name="tool")
    assert frame is not None, "the LMS page has no tool frame"
    return frame


def choose(frame: FrameLocator) -> None:
    """Tick the right option of whichever of QUESTIONS the frame shows."""
    labels = frame.locator("#answer-form .option label")
    expect(labels.first).to_be_visible()
    (words,) = [w for w in RIGHT if labels.filter(has_text=w).count() == 1]
    labels.filter(has_text=words).click()
    expect(frame.locator("#answer-form input[name=answer]:checked")).to_have_count(1)


def instructor_sets_up(tool: LiveTool, lms: Platform) -> str:
    """The instructor's launch (over HTTP) makes the course; an assignment of two fixed
    questions is set in it. Its public id."""
    b = HttpBrowser()
    try:
        launch = lms.launch(INSTRUCTOR)
        to_auth = b.get(lms.login_url(launch), follow=False)
        form = parse_form(b.get(str(to_auth.url.join(to_auth.headers["location"]))).text)
        landed = b.post(form.action, data={"id_token": form.id_token, "state": form.state})
        assert landed.status_code == 200, landed.text[:500]
    finally:
        b.close()
    with tool.transaction() as db:
        context = db.scalar(select(LtiContext).where(LtiContext.context_id == lms.context_id))
        assert context is not None
        course = db.get(Course, context.course_id)
        assert course is not None
        topic = tool.app.state.catalog.topic("birnn")
        rules = {"sources": ["birnn"], "questions": [f"birnn/{s}" for s in QUESTIONS]}
        assignment = Assignment(
            course_id=course.id, topic_id=topic.id, title="Framed quiz", rules=rules
        )
        db.add(assignment)
        db.flush()
        return assignment.public_id


def test_a_learner_launched_in_the_lms_frame_takes_the_assignment_and_the_score_arrives(
    browser: Browser, tool: LiveTool, lms: Platform
) -> None:
    aid = instructor_sets_up(tool, lms)
    launch = lms.launch(LEARNER, target=f"assignment:{aid}", resource_link_id="framed-link")
    context = browser.new_context(color_scheme="light")
    try:
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        checks = FrameChecks(page)
        page.goto(lms.course_url(launch))
        frame = page.frame_locator("#tool")
        heading = frame.get_by_role("heading", level=1)
        expect(heading).to_have_text("Framed quiz")
        assert tool_frame(page).url == f"{tool.url}/assignments/{aid}"
        checks.check(tool_frame(page), "the assignment, launched")
        # The frame is third-party (127.0.0.1 inside localhost): our cookies live in the LMS
        # site's partition, which is what lets them come back inside its frame.
        ours = {c["name"]: c for c in context.cookies(tool.url)}
        assert "tq_account" in ours, sorted(ours)
        assert ours["tq_account"].get("partitionKey") == lms.url.rsplit(":", 1)[0], ours

        frame.get_by_role("button", name="Start", exact=True).click()
        expect(heading).to_have_text("Test 1 / 2")
        checks.check(tool_frame(page), "question 1")
        choose(frame)
        frame.get_by_role("button", name="Save and next").click()
        expect(heading).to_have_text("Test 2 / 2")
        choose(frame)
        frame.get_by_role("button", name=re.compile(r"^Review and finish")).click()
        expect(heading).to_have_text("Before you finish")
        checks.check(tool_frame(page), "the summary")
        frame.get_by_role("button", name="Finish test").click()
        expect(frame.get_by_role("status")).to_have_text(
            re.compile(r"You scored 2 of 2 points \(100%\)")
        )
        checks.check(tool_frame(page), "the result")
    finally:
        context.close()

    deadline = time.monotonic() + 30
    while not lms.scores_for(LEARNER.sub):  # the outbox delivers on its own, woken by the submit
        assert time.monotonic() < deadline, f"no score at the LMS; it refused: {lms.errors}"
        time.sleep(0.2)
    (score,) = lms.scores_for(LEARNER.sub)
    assert score["scoreGiven"] == score["scoreMaximum"]


def test_with_its_cookie_lost_a_framed_launch_proves_its_state_through_the_lms_storage(
    browser: Browser, tool: LiveTool, lms: Platform
) -> None:
    """A browser that keeps no cookie of ours inside the LMS's frame: the login's state was
    put in the platform's client-side storage (postMessage), and the launch reads it back."""
    aid = instructor_sets_up(tool, lms)
    launch = lms.launch(LEARNER, target=f"assignment:{aid}", resource_link_id="stored-link")
    lms.storage_target, lms.hold_auth = "_parent", True
    context = browser.new_context(color_scheme="light")
    try:
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        checks = FrameChecks(page)
        page.goto(lms.course_url(launch))
        frame = page.frame_locator("#tool")
        held = frame.get_by_role("button", name="Continue")  # the LMS's /auth form, waiting
        expect(held).to_be_visible()
        states = [c for c in context.cookies() if c["name"].startswith("lti_state_")]  # Path=/lti
        assert len(states) == 1, context.cookies()
        context.clear_cookies()  # as a browser blocking every cookie in third-party frames

        held.click()

        expect(frame.get_by_role("heading", level=1)).to_have_text("Framed quiz")
        assert tool_frame(page).url == f"{tool.url}/assignments/{aid}"
        assert "tq_account" in {c["name"] for c in context.cookies(tool.url)}
        checks.check(tool_frame(page), "the assignment, launched through the storage")
    finally:
        lms.storage_target, lms.hold_auth = None, False
        context.close()
