"""Helpers for the browser tests: pages that must pass axe, and ways to answer any question.

Every document a `CheckedPage` loads is checked with axe-core (WCAG 2.0/2.1 A and AA plus best
practice) in both the light and the dark colour scheme. A `load` listener records each document;
`check()` runs axe on the current one, and `assert_all_checked()` (called by the `browsing`
fixture after each test) fails the test if any loaded document was never checked, so a test
cannot visit a page without checking it. Checks run at well-defined points (after a navigation
has finished, or after an in-place update) rather than inside the listener, so a check never
races the test's next navigation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Route, expect

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
SCHEMES = ("light", "dark")
TIMEOUT_MS = 10_000
MIRROR_PATH = "/__axe_mirror__"
# axe is loaded from this same-origin path, which the live server answers with axe's source (a
# route the tests add to the app, conftest.py): the app's Content-Security-Policy refuses inline
# scripts, axe included. Not answered by a Playwright route: any route in a context sends each
# of its requests through this process, which made every page load about 0.1 s slower.
AXE_PATH = "/__axe__.js"
# Where the app's scripts are served from: its own, and htmx with its extensions.
APP_SCRIPTS = ("**/static/js/**", "**/static/vendor/htmx/**")

_RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'],
  });
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target, html: n.html, failureSummary: n.failureSummary})),
  }));
}"""


class AccessibilityError(AssertionError):
    pass


def format_violations(where: str, scheme: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"axe found {len(violations)} violation(s) on {where} ({scheme} colour scheme):"]
    for v in violations:
        lines.append(f"- {v['id']} ({v.get('impact')}): {v['help']}  <{v['helpUrl']}>")
        for node in v["nodes"][:8]:
            html = " ".join(node["html"].split())
            lines.append(f"    at {', '.join(map(str, node['target']))}")
            lines.append(f"       {html if len(html) <= 200 else html[:197] + '...'}")
            summary = " ".join((node.get("failureSummary") or "").split())
            if summary:
                lines.append(f"       {summary[:300]}")
        if len(v["nodes"]) > 8:
            lines.append(f"    ... and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


class CheckedPage:
    """A Playwright page whose every loaded document must pass axe, in light and dark.

    Use `page` for everything Playwright offers. Call `goto`, or wrap an action that leaves the
    page in `with cp.navigation():`, and call `check(what)` after an in-place update that shows
    new content (a verdict, an opened hint). Each of these runs axe in both colour schemes.

    Axe needs JavaScript; for a page whose context has JavaScript off, the current DOM is copied
    into `mirror` (a page of a JavaScript-enabled context on the same origin, with the app's own
    scripts blocked) and checked there, so what is checked is exactly what the no-JS learner got.
    """

    def __init__(self, page: Page, scheme: str, mirror: Page | None = None) -> None:
        self.page = page
        self.mirror = mirror
        self._scheme = scheme
        self._loaded: list[str] = []  # the URL of every document loaded, in order
        self._checked = 0  # how many of them have been checked
        self.checks = 0
        page.set_default_timeout(TIMEOUT_MS)
        page.on("load", lambda p: self._loaded.append(p.url))
        # What the Content-Security-Policy blocked: a page the policy breaks fails its check.
        self.csp_violations: list[str] = []
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def goto(self, url: str) -> None:
        with self.navigation():
            self.page.goto(url)

    def reload(self) -> None:
        with self.navigation():
            self.page.reload()

    @contextmanager
    def navigation(self) -> Iterator[None]:
        """Wrap an action that loads a new document: waits for its load, then checks it."""
        with self.page.expect_navigation(wait_until="load"):
            yield
        self.check()

    def check(self, what: str = "") -> None:
        """Run axe on the current document in both colour schemes; raise on any violation."""
        self.page.wait_for_load_state("load")
        new = self._loaded[self._checked :]
        self._checked = len(self._loaded)
        if len(new) > 1:
            raise AccessibilityError(
                f"pages were left before axe could check them: {new[:-1]}; wrap the action "
                "that leaves a page in `with checked_page.navigation():`"
            )
        where = self.page.url + (f" [{what}]" if what else "")
        target = self._mirrored() if self.mirror is not None else self.page
        if target.evaluate("typeof window.axe === 'undefined'"):
            target.add_script_tag(url=AXE_PATH)
        reports = []
        try:
            for scheme in SCHEMES:
                target.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
                violations = target.evaluate(_RUN_AXE, AXE_TAGS)
                if violations:
                    reports.append(format_violations(where, scheme, violations))
        finally:
            target.emulate_media(color_scheme=self._scheme)  # type: ignore[arg-type]
        self.checks += 1
        if self.csp_violations:
            reports.append(f"the Content-Security-Policy blocked, on {where}:")
            reports += [f"- {text}" for text in self.csp_violations]
        if reports:
            raise AccessibilityError("\n\n".join(reports))

    def _mirrored(self) -> Page:
        assert self.mirror is not None
        html = self.page.content()
        origin = re.match(r"https?://[^/]+", self.page.url)
        assert origin, self.page.url

        def serve(route: Route) -> None:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)

        self.mirror.unroute("**" + MIRROR_PATH)
        self.mirror.route("**" + MIRROR_PATH, serve)
        self.mirror.set_viewport_size(self.page.viewport_size or {"width": 1280, "height": 720})
        self.mirror.goto(origin[0] + MIRROR_PATH, wait_until="load")
        return self.mirror

    def assert_all_checked(self) -> None:
        unchecked = self._loaded[self._checked :]
        if unchecked and not self.page.is_closed():
            raise AccessibilityError(
                f"pages loaded but never checked with axe: {unchecked}; call check() or wrap "
                "the action that loaded them in `with checked_page.navigation():`"
            )


class Browsing:
    """Opens browser contexts (one learner each) and checked pages in them."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self._browser = browser
        self._base_url = base_url
        self._contexts: list[BrowserContext] = []
        self._schemes: dict[int, str] = {}
        self._mirror: Page | None = None
        self.pages: list[CheckedPage] = []

    def new_context(self, **options: Any) -> BrowserContext:
        options.setdefault("color_scheme", "light")
        context = self._browser.new_context(base_url=self._base_url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        self._contexts.append(context)
        self._schemes[id(context)] = options["color_scheme"]
        return context

    def new_page(self, context: BrowserContext | None = None, **options: Any) -> CheckedPage:
        """A checked page in `context`, or in a new context made with `options`."""
        js_off = options.get("java_script_enabled") is False
        context = context or self.new_context(**options)
        mirror = self._mirror_page() if js_off else None
        scheme = self._schemes[id(context)]
        cp = CheckedPage(context.new_page(), scheme, mirror=mirror)
        self.pages.append(cp)
        return cp

    def _mirror_page(self) -> Page:
        if self._mirror is None:
            context = self.new_context()
            # Only the server's HTML is checked: the app's scripts (its own and htmx, vendored)
            # must not change it.
            for scripts in APP_SCRIPTS:
                context.route(scripts, lambda route: route.abort())
            self._mirror = context.new_page()
        return self._mirror

    def assert_all_checked(self) -> None:
        for cp in self.pages:
            cp.assert_all_checked()

    def close(self) -> None:
        for context in self._contexts:
            context.close()


# --- the app's pages ---


def start_practice(cp: CheckedPage, *, difficulty: str = "", tag: str = "") -> None:
    """From anywhere: open the practice filters, choose them, and start; lands on question 1.
    (Tests that only need a practice question use `open_practice`.)"""
    page = cp.page
    cp.goto("/topics/birnn/practice")
    if difficulty:
        page.get_by_label("Difficulty").select_option(value=difficulty)
    if tag:
        page.get_by_label("Tag").select_option(value=tag)
    with cp.navigation():
        page.get_by_role("button", name="Start practice").click()
    expect(page).to_have_url(re.compile(r"/practice/[^/]+/1$"))


def start_test(cp: CheckedPage) -> str:
    """Start a test; returns the URL of question 1."""
    page = cp.page
    cp.goto("/topics/birnn/test")
    with cp.navigation():
        page.get_by_role("button", name="Start the test").click()
    expect(page).to_have_url(re.compile(r"/tests/[^/]+/1$"))
    return page.url


def finish_test(cp: CheckedPage) -> None:
    """From a test question: save, review the summary, and finish; ends on the result."""
    page = cp.page
    with cp.navigation():
        page.get_by_role("button", name=re.compile(r"^Review and finish")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Before you finish")
    with cp.navigation():
        page.get_by_role("button", name=re.compile(r"^Finish")).click()
    expect(page).to_have_url(re.compile(r"/tests/[^/]+/result$"))


def question_kind(page: Page) -> str:
    """single_choice, multiple_select, numeric, tensor_shape, short_text or code, as shown."""
    if page.locator("#answer-form textarea[data-editor]").count():
        return "code"
    if page.locator("#answer-form input[type=radio][name=answer]").count():
        return "single_choice"
    if page.locator("#answer-form input[type=checkbox][name=answer]").count():
        return "multiple_select"
    fmt = page.locator("#answer-format").inner_text()
    if "torch.Size" in fmt:
        return "tensor_shape"
    if "number" in fmt:
        return "numeric"
    return "short_text"


def open_practice(
    cp: CheckedPage,
    *,
    difficulty: str = "",
    tag: str = "",
    kind: str = "",
    predict_then_run: bool = False,
) -> None:
    """Practice started as Start practice starts it, through the API, and opened at its first
    question of `kind` (any kind if empty) that asks for a prediction if `predict_then_run`:
    one page loaded and checked, where `start_practice` and N would load the filters, question
    1 and every question before. The filters page and its form are walked in test_practice,
    test_accessibility and test_keyboard."""
    filters = {name: value for name, value in (("difficulty", difficulty), ("tag", tag)) if value}
    body = {"topic": "birnn", "mode": "practice", **filters}
    started = cp.page.request.post("/api/v1/sessions", data=body)
    assert started.status == 201, started.text()
    session = started.json()["id"]
    position = first_position(cp.page, session, 1, kind, predict_then_run=predict_then_run)
    cp.goto(f"/practice/{session}/{position}")
    expect(cp.page).to_have_url(re.compile(rf"/practice/[^/]+/{position}$"))


def first_position(
    page: Page, session: str, start: int, kind: str, *, predict_then_run: bool = False
) -> int:
    """The first position from `start` on of a question of `kind` (any if empty), through the
    API; fails if the session has none."""
    api = f"/api/v1/sessions/{session}"
    total = page.request.get(api).json()["total"]
    for position in range(start, total + 1):
        question = page.request.get(f"{api}/questions/{position}").json()["question"]
        if kind in ("", question["type"]) and question["predict_then_run"] >= predict_then_run:
            return position
    what = f"{kind or 'any'} question" + (" to predict then run" if predict_then_run else "")
    raise AssertionError(f"no {what} in this practice session from question {start} on")


def go_to_question_of_kind(cp: CheckedPage, kind: str) -> None:
    """From a practice question: on to the first question of `kind` from this one on (the
    page N would reach after some presses, loaded at once); fails if the session has none."""
    page = cp.page
    here = re.search(r"/practice/([^/?#]+)/(\d+)", page.url)
    assert here, f"not a practice question: {page.url}"
    if question_kind(page) == kind:
        return
    expect(page.locator("a[data-shortcut=n]")).to_be_visible()  # N is there to take
    position = first_position(page, here[1], int(here[2]) + 1, kind)
    cp.goto(f"/practice/{here[1]}/{position}")
    assert question_kind(page) == kind, f"question {position} shows no {kind} question"


# Two valid, different answers for each kind of question: (letter to tick, or text to type).
ANSWERS = {
    "single_choice": ("A", "B"),
    "multiple_select": ("A", "B"),
    "numeric": ("1", "2"),
    "tensor_shape": ("(1, 2)", "(3, 4)"),
    "short_text": ("x", "y"),
    "code": ("x = 1\n", "x = 2\n"),  # valid Python that fails the hidden tests
}


def give_answer(page: Page, which: int = 0) -> tuple[str, str]:
    """Fill in a valid answer (the first or second of ANSWERS); returns (kind, answer)."""
    kind = question_kind(page)
    answer = ANSWERS[kind][which]
    if kind in ("single_choice", "multiple_select"):
        for box in page.locator("#answer-form input[name=answer]:checked").all():
            box.uncheck()  # a multiple-select question keeps earlier ticks
        page.locator(f"#option-{answer}").check()
    else:
        page.get_by_label("Your code" if kind == "code" else "Your answer").fill(answer)
    return kind, answer


def expect_answer_shown(page: Page, kind: str, answer: str) -> None:
    """The answer controls show `answer` as the saved one (and nothing else is ticked)."""
    if kind in ("single_choice", "multiple_select"):
        expect(page.locator(f"#option-{answer}")).to_be_checked()
        expect(page.locator("#answer-form input[name=answer]:checked")).to_have_count(1)
    else:
        label = "Your code" if kind == "code" else "Your answer"
        expect(page.get_by_label(label)).to_have_value(answer)


# --- accounts and courses ---

PASSWORD = "a long enough passphrase"


def sign_up(cp: CheckedPage, email: str) -> None:
    """On the sign-up page: create the account; lands where its ?next= says."""
    page = cp.page
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    with cp.navigation():
        page.get_by_role("button", name="Create account").click()


def instructor_with_course(browsing: Browsing, email: str, title: str) -> CheckedPage:
    """A new account that creates a course, left on the course's page."""
    cp = browsing.new_page()
    cp.goto("/account/sign-up?next=/courses")
    sign_up(cp, email)
    cp.page.get_by_label("Course title").fill(title)
    with cp.navigation():
        cp.page.get_by_role("button", name="Create the course").click()
    return cp
