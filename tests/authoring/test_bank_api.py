"""A course's bank over the API: create (JSON or YAML), save, history, diff, revert, a stale
save refused with the diff, copies of shipped questions, list filters, bulk tag and retire, and
bad input answered with a 4xx naming the field. On both databases. Verify and publish, which
run torch: test_bank_api_verify.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.bank.loader import content_hash
from app.bank.schema import QuestionAdapter
from app.courses import service as courses
from app.courses.models import CourseStaff
from app.questions.models import QuestionRow, QuestionVersion
from tests.courses.support import Visitor, make_user, signed_in

BROKEN = Path(__file__).resolve().parents[1] / "bank/broken/shape-off-by-one.yaml"
# The broken fixture's one mistake, put right: h_n is (2, 8, 32).
GOOD_YAML = BROKEN.read_text().replace("33", "32").replace("shape-off-by-one", "gru-h-n")
WRONG_YAML = BROKEN.read_text().replace("shape-off-by-one", "gru-h-n")


def questions_url(slug: str) -> str:
    return f"/api/v1/courses/{slug}/questions"


class Bank:
    """A course and an editor of its content, talking to its bank's API."""

    def __init__(self, visitor: Visitor, slug: str) -> None:
        self.visitor, self.slug = visitor, slug
        self.url = questions_url(slug)

    def call(self, method: str, path: str = "", **kwargs: Any) -> Any:
        return self.visitor.client.request(method, self.url + path, **kwargs)

    def create(self, text: str = GOOD_YAML, **extra: Any) -> dict[str, Any]:
        answer = self.call("POST", json={"yaml": text, **extra})
        assert answer.status_code == 201, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def save(self, qid: str, data: dict[str, Any], base: int, message: str = "edit") -> Any:
        body = {"question": data, "base_version_id": base, "message": message}
        return self.call("PUT", f"/{qid}", json=body)


@pytest.fixture
def editor_bank(app: FastAPI, db: Session) -> Bank:
    owner = make_user(db, "owner@example.org")
    course = courses.create_course(db, owner.id, "Deep learning")
    editor = make_user(db, "editor@example.org")
    db.add(
        CourseStaff(course_id=course.id, user_id=editor.id, content_role="editor", data_role="none")
    )
    db.flush()
    return Bank(signed_in(app, db, editor), course.slug)


def edited(question: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**question, **changes}


def test_a_question_created_from_yaml_is_a_draft_at_version_one_with_its_source_kept(
    editor_bank: Bank,
) -> None:
    created = editor_bank.create(message="first draft")
    assert created["id"] == "gru-h-n"
    assert created["status"] == "draft"
    assert created["published_version"] is None
    assert created["verify"] is None
    assert created["version"]["number"] == 1
    assert created["version"]["message"] == "first draft"
    assert yaml.safe_load(created["yaml"])["answer"] == [2, 8, 32]
    fetched = editor_bank.call("GET", "/gru-h-n")
    assert fetched.status_code == 200
    assert fetched.headers["ETag"] == f'"{created["version"]["content_hash"]}"'
    assert fetched.json() == created


def test_a_question_sent_as_json_is_stored_as_the_same_version_as_its_yaml(
    editor_bank: Bank,
) -> None:
    from_yaml = editor_bank.create()
    as_json = edited(from_yaml["question"], id="gru-h-n-copy")
    answer = editor_bank.call("POST", json=as_json)
    assert answer.status_code == 201, answer.text
    expected = content_hash(QuestionAdapter.validate_python(as_json))
    assert answer.json()["version"]["content_hash"] == expected
    assert answer.json()["question"] == as_json


def test_saves_make_versions_listed_newest_first_with_a_diff_and_a_revert(
    editor_bank: Bank, db: Session
) -> None:
    first = editor_bank.create()
    question, base = first["question"], first["version"]["id"]
    saved = editor_bank.save("gru-h-n", edited(question, difficulty="medium"), base, "harder")
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"]["number"] == 2
    history = editor_bank.call("GET", "/gru-h-n/versions").json()["versions"]
    assert [(v["number"], v["message"]) for v in history] == [(2, "harder"), (1, "created")]
    one = editor_bank.call("GET", "/gru-h-n/versions/1").json()
    assert one["question"]["difficulty"] == "easy"
    diff = editor_bank.call("GET", "/gru-h-n/diff", params={"from": 1, "to": 2}).json()["diff"]
    assert "-difficulty: easy" in diff and "+difficulty: medium" in diff
    latest = editor_bank.call("GET", "/gru-h-n/diff").json()  # the newest change by default
    assert (latest["from_version"], latest["to_version"], latest["diff"]) == (1, 2, diff)
    reverted = editor_bank.call("POST", "/gru-h-n/revert", json={"number": 1})
    assert reverted.status_code == 200, reverted.text
    assert reverted.json()["version"]["number"] == 1
    assert reverted.json()["question"]["difficulty"] == "easy"
    versions = db.scalar(
        select(func.count())
        .select_from(QuestionVersion)
        .where(
            QuestionVersion.question_id
            == select(QuestionRow.id)
            .where(QuestionRow.slug == "gru-h-n", QuestionRow.course_id.is_not(None))
            .scalar_subquery()
        )
    )
    assert versions == 2  # a revert is the earlier version itself, not a copy


def test_a_save_over_a_version_that_changed_meanwhile_is_refused_with_the_diff(
    editor_bank: Bank,
) -> None:
    first = editor_bank.create()
    question, base = first["question"], first["version"]["id"]
    theirs = editor_bank.save("gru-h-n", edited(question, difficulty="hard"), base)
    assert theirs.status_code == 200
    mine = editor_bank.save("gru-h-n", edited(question, tags=["gru"]), base)
    assert mine.status_code == 409, mine.text
    body = mine.json()
    assert body["code"] == "conflict"
    assert body["field"] == "base_version_id"
    assert body["current_version_id"] == theirs.json()["version"]["id"]
    assert "+difficulty: hard" in body["diff"]
    newest = editor_bank.call("GET", "/gru-h-n").json()
    assert newest["question"]["difficulty"] == "hard"  # nothing overwritten
    assert newest["question"]["tags"] == ["gru", "hidden-state"]


def test_a_save_that_changes_the_question_id_is_refused_naming_the_id(editor_bank: Bank) -> None:
    first = editor_bank.create()
    answer = editor_bank.save(
        "gru-h-n", edited(first["question"], id="renamed"), first["version"]["id"]
    )
    assert answer.status_code == 409
    assert answer.json()["field"] == "id"
    assert editor_bank.call("GET", "/renamed").status_code == 404


def test_a_question_id_taken_in_the_course_is_refused_with_409(editor_bank: Bank) -> None:
    editor_bank.create()
    answer = editor_bank.call("POST", json={"yaml": GOOD_YAML})
    assert answer.status_code == 409
    assert answer.json()["field"] == "id"


BAD_BODIES: dict[str, tuple[Any, str]] = {
    "invalid YAML": ({"yaml": "id: [unclosed\n"}, ""),
    "YAML that is not a mapping": ({"yaml": "- a list"}, ""),
    "an unknown type": ({"yaml": GOOD_YAML.replace("tensor_shape", "essay")}, "type"),
    "an invalid field": (
        {"yaml": GOOD_YAML.replace("difficulty: easy", "difficulty: 7")},
        "difficulty",
    ),
    "a missing field": ({"yaml": GOOD_YAML.replace("quick_check:", "quick_chek:")}, "quick_check"),
    "JSON with an invalid option field": (
        {**yaml.safe_load(GOOD_YAML), "hints": []},
        "hints",
    ),
    "yaml that is not text": ({"yaml": 5}, "yaml"),
    "a NUL in the prompt": ({**yaml.safe_load(GOOD_YAML), "prompt": "a\x00b"}, ""),
    "a lone surrogate in the prompt": ({**yaml.safe_load(GOOD_YAML), "prompt": "a\ud800"}, ""),
    "a lone surrogate in the YAML": ({"yaml": GOOD_YAML + "\ud800"}, "yaml"),
    "a message that is not text": ({"yaml": GOOD_YAML, "message": ["x"]}, "message"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_a_bad_question_is_refused_with_422_naming_the_field_and_nothing_is_stored(
    case: str, editor_bank: Bank, db: Session
) -> None:
    body, field = BAD_BODIES[case]
    sent = json.dumps(body).encode()  # escaped: httpx would not encode a lone surrogate
    answer = editor_bank.call("POST", content=sent, headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "validation_error"
    assert problem["errors"], problem
    if field:
        assert field in {e["field"] for e in problem["errors"]}, problem
        assert problem["message"].startswith(problem["errors"][0]["field"])
    else:
        assert problem["message"], problem
    assert (
        db.scalar(
            select(func.count()).select_from(QuestionRow).where(QuestionRow.course_id.is_not(None))
        )
        == 0
    )


def test_malformed_json_is_a_422_not_a_500(editor_bank: Bank) -> None:
    answer = editor_bank.call(
        "POST", content=b'{"yaml": "id: x', headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "validation_error"
    not_an_object = editor_bank.call("POST", content=json.dumps([1, 2]))
    assert not_an_object.status_code == 422


def test_a_save_without_the_question_names_what_is_missing(editor_bank: Bank) -> None:
    first = editor_bank.create()
    answer = editor_bank.call(
        "PUT", "/gru-h-n", json={"base_version_id": first["version"]["id"], "message": "x"}
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == "question"


def test_unknown_questions_and_versions_are_404_naming_what_is_missing(
    editor_bank: Bank,
) -> None:
    editor_bank.create()
    for method, path, body in [
        ("GET", "/nope", None),
        ("GET", "/nope/versions", None),
        ("POST", "/nope/publish", None),
        ("POST", "/nope/retire", None),
        ("GET", "/gru-h-n/versions/9", None),
        ("POST", "/gru-h-n/revert", {"number": 9}),
    ]:
        answer = editor_bank.call(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["field"] in ("question", "version")
    diff = editor_bank.call("GET", "/gru-h-n/diff", params={"from": 1, "to": 9})
    assert diff.status_code == 404
    assert editor_bank.call("GET", "/gru-h-n/diff", params={"from": 0}).status_code == 422


def test_a_shipped_question_copied_into_the_course_keeps_its_content_hash(
    editor_bank: Bank, app: FastAPI
) -> None:
    shipped = app.state.catalog.question("gru-stacked-bidir-param-count")
    answer = editor_bank.call("POST", "/copy", json={"shipped_id": shipped.slug})
    assert answer.status_code == 201, answer.text
    copy = answer.json()
    assert copy["status"] == "draft"
    assert copy["version"]["content_hash"] == content_hash(shipped.source)
    again = editor_bank.call("POST", "/copy", json={"shipped_id": shipped.slug})
    assert again.status_code == 409
    renamed = editor_bank.call(
        "POST", "/copy", json={"shipped_id": shipped.slug, "new_id": "my-gru-count"}
    )
    assert renamed.status_code == 201
    assert renamed.json()["question"] == {**copy["question"], "id": "my-gru-count"}
    unknown = editor_bank.call("POST", "/copy", json={"shipped_id": "no-such-question"})
    assert unknown.status_code == 404
    assert unknown.json()["field"] == "question"


def test_the_list_filters_by_text_tag_difficulty_type_and_status(editor_bank: Bank) -> None:
    gru = editor_bank.create()
    editor_bank.create(
        GOOD_YAML.replace("gru-h-n", "lstm-h-n")
        .replace("[gru, hidden-state]", "[lstm]")
        .replace("What is the shape", "Which shape")
        .replace("difficulty: easy", "difficulty: hard")
    )
    editor_bank.call("POST", "/copy", json={"shipped_id": "gru-stacked-bidir-param-count"})
    editor_bank.call("POST", "/lstm-h-n/retire")

    def ids(**params: Any) -> list[str]:
        answer = editor_bank.call("GET", params=params)
        assert answer.status_code == 200, answer.text
        return [q["id"] for q in answer.json()["questions"]]

    assert ids() == ["gru-h-n", "lstm-h-n", "gru-stacked-bidir-param-count"]
    assert ids(text="WHAT IS THE SHAPE") == ["gru-h-n"]
    assert ids(text="stacked-bidir") == ["gru-stacked-bidir-param-count"]
    assert ids(tag="lstm") == ["lstm-h-n"]
    assert ids(difficulty="easy") == ["gru-h-n"]
    assert ids(type="numeric") == ["gru-stacked-bidir-param-count"]
    assert ids(status="retired") == ["lstm-h-n"]
    assert ids(status="draft") == ["gru-h-n", "gru-stacked-bidir-param-count"]
    assert ids(verified="none") == ids()
    assert ids(verified="passed") == []
    listed = editor_bank.call("GET").json()["questions"][0]
    assert listed["current_version_id"] == gru["version"]["id"]
    assert (listed["verify"], listed["published_version"]) == ("none", None)
    assert editor_bank.call("GET", params={"status": "gone"}).status_code == 422


def test_bulk_tagging_makes_a_version_of_each_question_it_changes(editor_bank: Bank) -> None:
    editor_bank.create()
    editor_bank.create(
        GOOD_YAML.replace("gru-h-n", "other").replace("[gru, hidden-state]", "[rnn]")
    )
    answer = editor_bank.call(
        "POST",
        "/bulk",
        json={
            "action": "tag",
            "ids": ["gru-h-n", "other"],
            "add_tags": ["rnn"],
            "remove_tags": ["gru"],
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["changed"] == ["gru-h-n"]  # "other" had rnn and no gru already
    gru = editor_bank.call("GET", "/gru-h-n").json()
    assert gru["question"]["tags"] == ["hidden-state", "rnn"]
    assert gru["version"]["number"] == 2
    assert editor_bank.call("GET", "/other").json()["version"]["number"] == 1


def test_bulk_tagging_that_would_leave_no_tag_is_refused_naming_tags(editor_bank: Bank) -> None:
    editor_bank.create()
    answer = editor_bank.call(
        "POST",
        "/bulk",
        json={"action": "tag", "ids": ["gru-h-n"], "remove_tags": ["gru", "hidden-state"]},
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == "tags"
    assert editor_bank.call("GET", "/gru-h-n").json()["version"]["number"] == 1


def test_bulk_retire_retires_every_question_or_none_when_one_is_unknown(
    editor_bank: Bank,
) -> None:
    editor_bank.create()
    editor_bank.create(GOOD_YAML.replace("gru-h-n", "other"))
    refused = editor_bank.call(
        "POST", "/bulk", json={"action": "retire", "ids": ["gru-h-n", "nope"]}
    )
    assert refused.status_code == 404
    assert editor_bank.call("GET", "/gru-h-n").json()["status"] == "draft"
    answer = editor_bank.call(
        "POST", "/bulk", json={"action": "retire", "ids": ["gru-h-n", "other"]}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["changed"] == ["gru-h-n", "other"]
    statuses = {q["id"]: q["status"] for q in editor_bank.call("GET").json()["questions"]}
    assert statuses == {"gru-h-n": "retired", "other": "retired"}
    unknown_action = editor_bank.call("POST", "/bulk", json={"action": "delete", "ids": ["other"]})
    assert unknown_action.status_code == 422
    assert unknown_action.json()["field"] == "action"


def test_a_retired_question_keeps_its_history(editor_bank: Bank) -> None:
    editor_bank.create()
    retired = editor_bank.call("POST", "/gru-h-n/retire")
    assert retired.status_code == 200
    assert retired.json()["status"] == "retired"
    assert len(editor_bank.call("GET", "/gru-h-n/versions").json()["versions"]) == 1
