"""Preview refresh benchmark: the editor's live preview (POST .../bank/new/preview, what the
page's script sends ~300 ms after each keystroke) over 50 edits of a single-choice question's
prompt, against a server started here (or --url), beside GET /healthz measured in the same run
and interleaved with it, as the ratio baseline. Target: preview p50 at most 1 s.

    python bench/preview.py [--url http://127.0.0.1:8000] [--edits 50]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from http_load import server, wait_until_up  # noqa: E402

from app.authoring import editor  # noqa: E402
from app.bank.loader import load_bank  # noqa: E402


def a_question_form() -> dict[str, str]:
    bank = load_bank(ROOT / "questions")
    question = next(
        q.question
        for t in bank.topics.values()
        for q in t.questions
        if q.question.type == "single_choice"
    )
    return {"type": question.type, **editor.form_of(question).values}


def editor_session(client: httpx.Client) -> tuple[str, str]:
    """An instructor signed up with a course; (the course's slug, the page's CSRF token)."""
    account = {"email": f"bench-{uuid.uuid4().hex[:8]}@example.org", "password": "x" * 16}
    client.post("/api/v1/account/sign-up", json=account).raise_for_status()
    course = client.post("/api/v1/courses", json={"title": f"Bench {uuid.uuid4().hex[:6]}"})
    course.raise_for_status()
    slug = course.json()["slug"]
    page = client.get(f"/courses/{slug}/bank/new?type=single_choice")
    page.raise_for_status()
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "no CSRF token on the editor page"
    return slug, found.group(1)


def timed(send: Callable[[], httpx.Response]) -> float:
    started = time.perf_counter()
    answer = send()
    elapsed = (time.perf_counter() - started) * 1000
    answer.raise_for_status()
    return elapsed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(url: str, edits: int) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        slug, csrf = editor_session(client)
        form = a_question_form()
        preview_url = f"/courses/{slug}/bank/new/preview"
        previews, health = [], []
        for n in range(edits):
            data = {**form, "prompt": f"{form['prompt']} (edit {n})", "csrf_token": csrf}
            data |= {"preview_seed": str(n), "preview_fill": "on", "preview_solution": "on"}
            previews.append(timed(lambda data=data: client.post(preview_url, data=data)))
            health.append(timed(lambda: client.get("/healthz")))
    print(f"preview refresh over {edits} edits of a single-choice question")
    print(f"{'':20}{'p50 ms':>10}{'p95 ms':>10}")
    for name, values in (("GET /healthz", health), ("POST preview", previews)):
        print(f"{name:20}{statistics.median(values):10.1f}{percentile(values, 0.95):10.1f}")
    ratio = statistics.median(previews) / statistics.median(health)
    verdict = "met" if statistics.median(previews) <= 1000 else "MISSED"
    print(f"preview p50 / healthz p50: {ratio:.1f}x; target p50 <= 1000 ms: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: start one here)")
    parser.add_argument("--edits", type=int, default=50)
    args = parser.parse_args()
    if args.url:
        wait_until_up(args.url)
        measure(args.url, args.edits)
        return
    with server(workers=1) as url:
        measure(url, args.edits)


if __name__ == "__main__":
    main()
