"""/docs renders every API operation in Chromium from this server alone: no request leaves it,
and the Content-Security-Policy blocks nothing the page needs.

Not checked with axe: the page is Swagger UI's, not ours.
"""

from __future__ import annotations

import json
import urllib.request

from browser_support import Browsing
from playwright.sync_api import ConsoleMessage, Route, expect


def test_docs_render_every_operation_offline_under_the_policy(
    browsing: Browsing, live_server: str
) -> None:
    with urllib.request.urlopen(f"{live_server}/openapi.json") as response:
        spec = json.load(response)
    operations = sum(len(methods) for methods in spec["paths"].values())
    context = browsing.new_context()
    elsewhere: list[str] = []

    def refuse(route: Route) -> None:  # the machine may be online: make sure nothing goes out
        elsewhere.append(route.request.url)
        route.abort()

    context.route(lambda url: not url.startswith(live_server), refuse)
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            problems.append(message.text)

    page = context.new_page()
    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto("/docs")

    expect(page.locator(".opblock")).to_have_count(operations)
    expect(page.get_by_role("heading", name="torchquiz")).to_be_visible()
    expect(page.locator(".auth-wrapper .authorize")).to_be_visible()  # the bearer schemes
    page.locator(".opblock-summary", has_text="/api/v1/me").first.click()
    expect(page.locator(".opblock.is-open .responses-table")).to_be_visible()
    assert elsewhere == []
    assert problems == []
