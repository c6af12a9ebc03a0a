"""htmx and its SSE extension are served from static/vendor/htmx, exactly the pinned release
files that its README lists, and the templates ask htmx for nothing the Content-Security-Policy
forbids."""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.core.config import PROJECT_DIR
from tests.core.test_security_headers import bare_app

VENDOR = PROJECT_DIR / "static" / "vendor" / "htmx"
PINS = {"htmx.org": "2.0.11", "htmx-ext-sse": "2.2.4"}
# Each served file and where `npm ci` puts the same file.
FROM_PACKAGES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "htmx.LICENSE": "htmx.org/LICENSE",
    "sse.min.js": "htmx-ext-sse/dist/sse.min.js",
    "sse.LICENSE": "htmx-ext-sse/LICENSE",
}


def pinned_sums() -> dict[str, str]:
    note = (VENDOR / "README.md").read_text(encoding="utf-8")
    return {name: digest for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", note, re.M)}


@pytest.fixture
def bare_client(tmp_path: Path) -> TestClient:
    return bare_app(tmp_path)


def test_the_served_htmx_files_are_those_the_readme_pins(bare_client: TestClient) -> None:
    sums = pinned_sums()
    assert set(sums) == {p.name for p in VENDOR.iterdir() if p.name != "README.md"}
    assert set(sums) == set(FROM_PACKAGES)
    for name, digest in sums.items():
        response = bare_client.get(f"/static/vendor/htmx/{name}")
        assert response.status_code == 200, name
        assert hashlib.sha256(response.content).hexdigest() == digest, name


def test_the_readme_and_package_json_pin_the_same_versions() -> None:
    note = (VENDOR / "README.md").read_text(encoding="utf-8")
    package = json.loads((PROJECT_DIR / "package.json").read_text(encoding="utf-8"))
    for name, version in PINS.items():
        assert f"`{name}` **{version}**" in note
        assert package["devDependencies"][name] == version  # exact: no range


def test_npm_ci_installs_the_same_files_as_those_served() -> None:
    """So that `npm ci` then copying (the README's upgrade steps) cannot change them silently."""
    modules = PROJECT_DIR / "node_modules"
    if not (modules / "htmx.org").is_dir():
        pytest.skip("node_modules has no htmx.org: run `npm ci`")
    for name, version in PINS.items():
        installed = json.loads((modules / name / "package.json").read_text(encoding="utf-8"))
        assert installed["version"] == version, name
    for served, installed in FROM_PACKAGES.items():
        assert (VENDOR / served).read_bytes() == (modules / installed).read_bytes(), served


def test_base_configures_htmx_for_the_policy() -> None:
    base = (PROJECT_DIR / "templates" / "base.html").read_text(encoding="utf-8")
    meta = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", base)
    assert meta, "base.html configures htmx with a meta tag"
    config = json.loads(meta[1])
    assert config["includeIndicatorStyles"] is False  # else htmx injects a <style>
    assert config["allowEval"] is False
    assert config["allowScriptTags"] is False
    assert config["selfRequestsOnly"] is True
    assert config["historyCacheSize"] == 0  # no page, CSRF token included, in sessionStorage
    scripts = re.findall(
        r"<script src=\"\{\{ url_for\('static', path='([^']+)'\) \}\}\" defer>", base
    )
    assert scripts[:2] == ["vendor/htmx/htmx.min.js", "vendor/htmx/sse.min.js"]  # htmx first
    for script in scripts:
        assert (PROJECT_DIR / "static" / script).is_file(), script


def test_templates_ask_htmx_for_nothing_that_needs_eval() -> None:
    """hx-on, hx-vars, js: values and trigger filters ([...]) run code through eval, which the
    policy forbids (allowEval is off: htmx would refuse them)."""
    offenders = []
    for template in sorted((PROJECT_DIR / "templates").rglob("*.html")):
        text = re.sub(r"\{#.*?#\}", "", template.read_text(encoding="utf-8"), flags=re.S)
        for pattern in (
            r"\s(?:data-)?hx-on\b",
            r"\s(?:data-)?hx-vars\s*=",
            r"\s(?:data-)?hx-vals\s*=\s*[\"']js:",
            r"\s(?:data-)?hx-trigger\s*=\s*\"[^\"]*\[",
        ):
            offenders += [
                f"{template.name}: {m.group().strip()}" for m in re.finditer(pattern, text)
            ]
    assert offenders == []


def test_a_form_that_previews_with_get_leaves_the_csrf_token_out() -> None:
    """A GET puts the form's fields in the address (logs, history): never the CSRF token."""
    checked = 0
    for template in sorted((PROJECT_DIR / "templates").rglob("*.html")):
        for form in FormTags.of(template.read_text(encoding="utf-8")):
            if "hx-get" in form:
                assert form.get("hx-params") == "not csrf_token", f"{template.name}: {form}"
                checked += 1
    assert checked >= 2  # the playground and the lab's model size


class FormTags(HTMLParser):
    """The attributes of each <form> tag (quoted values may hold ">": hx-select="#a > *")."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.forms.append(dict(attrs))

    @classmethod
    def of(cls, html: str) -> list[dict[str, str | None]]:
        parser = cls()
        parser.feed(html)
        return parser.forms
