"""Accounts in a real browser, every page checked by axe: sign up after practising keeps the
answer, a second browser signs in to it, a wrong password is said in words and focusable, and
signing out leaves a fresh visitor."""

from __future__ import annotations

import re
import uuid

import pytest
from browser_support import PASSWORD, Browsing, CheckedPage, give_answer, start_practice
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def fill_and_send(cp: CheckedPage, button: str, **fields: str) -> None:
    for label, value in fields.items():
        cp.page.get_by_label(label, exact=True).fill(value)
    with cp.navigation():
        cp.page.get_by_role("button", name=button).click()


def test_an_account_keeps_practice_and_follows_the_learner_to_another_browser(
    browsing: Browsing,
) -> None:
    email = f"learner-{uuid.uuid4().hex[:8]}@example.org"
    cp = browsing.new_page()
    page = cp.page
    start_practice(cp, difficulty="easy")
    give_answer(page)
    page.get_by_role("button", name=re.compile(r"^(Check answer|Submit)$")).click()
    expect(page.locator("#verdict")).not_to_be_empty()
    cp.check("answered anonymously")

    cp.goto("/account/sign-up?next=/progress")
    fill_and_send(cp, "Create account", Email="not an address", Password="short")
    expect(page.locator("#email-problem")).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_have_attribute("aria-invalid", "true")
    cp.check("sign-up refused")
    fill_and_send(cp, "Create account", Email=email, Password=PASSWORD)
    expect(page).to_have_url(re.compile(r"/progress$"))
    expect(page.locator("main")).to_contain_text("1 of")
    expect(page.get_by_role("link", name="Your account")).to_be_visible()

    other = browsing.new_page()
    other.goto("/account/sign-in")
    fill_and_send(other, "Sign in", Email=email, Password="not the password")
    expect(other.page.locator("#password-problem")).to_have_text(re.compile("not right"))
    other.check("sign-in refused")
    fill_and_send(other, "Sign in", Email=email, Password=PASSWORD)
    other.goto("/progress")
    expect(other.page.locator("main")).to_contain_text("1 of")

    other.goto("/account")
    expect(other.page.get_by_role("heading", level=1)).to_have_text("Your account")
    with other.navigation():
        other.page.get_by_role("button", name="Sign out").click()
    expect(other.page.get_by_role("link", name="Sign in")).to_be_visible()
    other.goto("/progress")
    expect(other.page.locator("main")).to_contain_text("0 of")
