"""htmx in a real browser: the vendored release, configured for the Content-Security-Policy.

Every check() also fails on anything the policy blocked (browser_support.CheckedPage), so a
swap that needed an inline style or eval would fail here and in every other browser test.
"""

from __future__ import annotations

import re

import pytest
from browser_support import CheckedPage
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_htmx_runs_under_the_policy_without_eval_or_an_injected_style(
    checked_page: CheckedPage,
) -> None:
    cp, page = checked_page, checked_page.page
    cp.goto("/playground")
    assert page.evaluate("htmx.version") == "2.0.11"
    config = page.evaluate(
        "(({allowEval, allowScriptTags, includeIndicatorStyles, selfRequestsOnly,"
        " historyCacheSize}) => ({allowEval, allowScriptTags, includeIndicatorStyles,"
        " selfRequestsOnly, historyCacheSize}))(htmx.config)"
    )
    assert config == {
        "allowEval": False,
        "allowScriptTags": False,
        "includeIndicatorStyles": False,
        "selfRequestsOnly": True,
        "historyCacheSize": 0,
    }
    assert page.evaluate("typeof htmx.createEventSource") == "function", "no sse extension"
    assert page.evaluate("document.querySelectorAll('style, [style]').length") == 0

    page.get_by_label("hidden_size").fill("8")
    expect(page.get_by_role("status")).to_contain_text("Output shape (4, 7, 16)")
    expect(page).to_have_url(re.compile(r"hidden_size=8"))
    assert page.evaluate("document.querySelectorAll('style, [style]').length") == 0
    assert page.evaluate("sessionStorage.getItem('htmx-history-cache')") is None
    cp.check("after an htmx swap")
    assert cp.csp_violations == []
