"""What the hardening tests share: the values that used to give 500s, the refusal they must
get now, and request bodies httpx will not build (JSON with a lone surrogate, a form whose
fields carry any text at all)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from starlette.testclient import TestClient

HUGE = 2**63  # past SQLite's 64-bit integers
PAST_INT32 = 2**31  # past PostgreSQL's integer, the type of every Integer column
TOO_LONG = "x" * 81  # past a slug's or tag's column, String(80)
LONE_SURROGATE = "\ud800"  # JSON's "\ud800": no character at all


class Repeated(str):
    """A long text that Hypothesis, which prints each example it runs, prints short."""

    def __repr__(self) -> str:
        return f"{str(self[:1])!r} * {len(self)}"


# What the fuzzers put, now and then, in place of a drawn value: each of these once gave a 500.
EDGE_INTS = [-1, 0, 2**31 - 1, PAST_INT32, HUGE, 10**400]
EDGE_TEXTS = ["", "\x00", "a\x00b", LONE_SURROGATE, f"a{LONE_SURROGATE}b", TOO_LONG]
EDGE_TEXTS += [Repeated("x" * 40_000)]  # past every length, code's included
# Those a URL can carry: UTF-8 encodes no lone surrogate, and httpx sends no 40 kB query.
URL_EDGE_TEXTS = [text for text in EDGE_TEXTS if LONE_SURROGATE not in text and len(text) < 100]


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "every form carries a CSRF token"
    return match.group(1)


def assert_refused(response: Any, field: str | None = None) -> None:
    """422 in the API's error shape, naming the field; or the error page for a browser."""
    assert response.status_code == 422, response.text[:500]
    if not response.url.path.startswith("/api/"):
        assert response.headers["content-type"].startswith("text/html")
        return
    body = response.json()
    assert body["status"] == 422 and body["code"] == "validation_error", body
    assert {"status", "code", "message", "field"} <= set(body)
    if field is not None:
        assert body["field"] == field, body


def post_json_text(client: TestClient, url: str, text: str) -> Any:
    """POST JSON written by hand: httpx cannot encode a lone surrogate, JSON can escape one."""
    return client.post(url, content=text.encode(), headers={"content-type": "application/json"})


def hostile_form(fields: dict[str, str | list[str]]) -> dict[str, Any]:
    """A multipart form declaring the charset unicode_escape, which Starlette honours: each
    field then carries any text at all, lone surrogates too, as a hostile client can send."""
    boundary = uuid.uuid4().hex
    body = b""
    for name, values in fields.items():
        for value in [values] if isinstance(values, str) else values:
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            body += head.encode() + value.encode("unicode_escape") + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    content_type = f"multipart/form-data; charset=unicode_escape; boundary={boundary}"
    return {"content": body, "headers": {"content-type": content_type}}


def start(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/sessions", json={"topic": "birnn", **body})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def position_of(client: TestClient, session: dict[str, Any], kind: str) -> int:
    """The first position of a question of this type in the session."""
    for position in range(1, session["total"] + 1):
        url = f"/api/v1/sessions/{session['id']}/questions/{position}"
        if client.get(url).json()["question"]["type"] == kind:
            return position
    raise AssertionError(f"no {kind} question in this session")


def session_with(client: TestClient, mode: str, kind: str) -> tuple[dict[str, Any], int]:
    """A session holding a question of this type, and its position. A test draws its
    questions at random: a few tries find one."""
    for _ in range(30):
        session = start(client, mode=mode)
        try:
            return session, position_of(client, session, kind)
        except AssertionError:
            if mode == "test":  # an open test is resumed: finish it for a new draw
                client.post(f"/api/v1/sessions/{session['id']}/finish")
            continue
    raise AssertionError(f"no {mode} drew a {kind} question in 30 tries")


def bounded(max_examples: int) -> settings:
    """Hypothesis settings for fuzzing through real requests: a fixed amount of work per run."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,  # no examples kept between runs: each run is the same bounded work
        # A failure is reported as found: shrinking it through requests can take many minutes.
        phases=[Phase.explicit, Phase.generate],
    )
