"""Courses in a real browser, with axe on every page: an instructor signs up, creates a course
and reads its join link; a learner in another browser opens the link, signs up from it, comes
back, joins; the instructor then sees the learner in the course's list."""

from __future__ import annotations

import re
import uuid

import pytest
from browser_support import Browsing, instructor_with_course, sign_up
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_an_instructor_creates_a_course_and_a_learner_joins_by_its_link(
    browsing: Browsing,
) -> None:
    run = uuid.uuid4().hex[:8]  # the live server's database is shared by the run's tests
    teacher = browsing.new_page()
    teacher.goto("/account/sign-up?next=/courses")
    sign_up(teacher, f"teacher-{run}@example.org")
    page = teacher.page
    expect(page.get_by_role("heading", level=1)).to_have_text("My courses")

    page.get_by_label("Course title").fill(f"Deep learning {run}")
    with teacher.navigation():
        page.get_by_role("button", name="Create the course").click()
    expect(page).to_have_url(re.compile(rf"/courses/deep-learning-{run}\?done=created$"))
    expect(page.get_by_role("status")).to_contain_text("Course created.")
    code = page.locator("#join-code").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{8}", code)
    link = page.locator("#join-link").inner_text()
    assert link.endswith(f"/courses/join/{code}")

    learner = browsing.new_page()
    learner.goto(link)
    lpage = learner.page
    expect(lpage.get_by_role("heading", level=1)).to_have_text(f"Join Deep learning {run}")
    with learner.navigation():
        lpage.get_by_role("link", name="sign up").click()
    sign_up(learner, f"learner-{run}@example.org")
    expect(lpage).to_have_url(re.compile(f"/courses/join/{code}$"))
    with learner.navigation():
        lpage.get_by_role("button", name=f"Join Deep learning {run}").click()
    expect(lpage.get_by_role("status")).to_have_text("You have joined the course.")
    expect(lpage.get_by_role("button", name="Leave this course")).to_be_visible()

    teacher.reload()
    learners = page.get_by_role("table", name=re.compile(r"^Learners of"))
    expect(learners.get_by_role("rowheader")).to_have_text([f"learner-{run}@example.org"])


def test_a_staff_invitation_is_accepted_from_its_link_after_signing_up_with_its_address(
    browsing: Browsing,
) -> None:
    run = uuid.uuid4().hex[:8]
    owner = instructor_with_course(browsing, f"owner-{run}@example.org", f"Vision {run}")
    page = owner.page

    page.get_by_label("Email address").fill(f"ta-{run}@example.org")
    page.get_by_label("Learner data role", exact=True).select_option("editor")
    with owner.navigation():
        page.get_by_role("button", name="Send the invitation").click()
    status = page.get_by_role("status")
    expect(status).to_contain_text(f"Invitation sent to ta-{run}@example.org")
    link = re.search(r"http://\S+/courses/invites/\S+", status.inner_text())
    assert link, status.inner_text()

    ta = browsing.new_page()
    ta.goto(link[0])
    tpage = ta.page
    expect(tpage.get_by_role("heading", level=1)).to_have_text(f"Staff invitation: Vision {run}")
    with ta.navigation():
        tpage.get_by_role("link", name="sign up").click()
    sign_up(ta, f"ta-{run}@example.org")
    with ta.navigation():
        tpage.get_by_role("button", name="Accept the invitation").click()
    expect(tpage.get_by_role("status")).to_have_text("You are on the course's staff now.")
    # A data editor sees the learners, but manages neither the course nor its staff.
    expect(tpage.get_by_role("heading", name="Learners", exact=True)).to_be_visible()
    expect(tpage.get_by_role("button", name="Send the invitation")).to_have_count(0)

    with ta.navigation():
        tpage.get_by_role("link", name="Join a course").click()
    expect(tpage.get_by_label("Join code")).to_be_visible()
