"""Our own format: a zip of YAML files laid out like questions/, read back to the same
content hashes; broken files named by file and field."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping

import yaml

from app.bank.formats import yaml_zip
from app.bank.formats.registry import export_bank
from app.bank.loader import TOPIC_FILE, content_hash
from tests.formats.shipped import shipped_bank, shipped_questions


def zipped(files: Mapping[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def shipped_file(qid: str) -> str:
    bank = shipped_bank()
    path = next(q.path for t in bank.topics.values() for q in t.questions if q.question.id == qid)
    return path.read_text(encoding="utf-8")


def test_an_export_then_import_gives_identical_content_hashes_for_the_whole_bank() -> None:
    exported = export_bank("yaml", shipped_bank())
    parsed = yaml_zip.parse(exported.data)
    assert parsed.problems == [] and parsed.warnings == []
    before = {q.id: content_hash(q) for q in shipped_questions()}
    after = {q.id: content_hash(q) for q in parsed.questions}
    assert after == before
    assert parsed.topic_of == {qid: "birnn" for qid in before}


def test_a_whole_topic_is_exported_with_its_topic_file_laid_out_like_the_bank() -> None:
    bank = shipped_bank()
    exported = export_bank("yaml", bank, topic="birnn")
    names = set(zipfile.ZipFile(io.BytesIO(exported.data)).namelist())
    expected = {f"birnn/{q.question.id}.yaml" for q in bank.topics["birnn"].questions}
    assert names == expected | {f"birnn/{TOPIC_FILE}"}
    parsed = yaml_zip.parse(exported.data)
    assert content_hash(parsed.topics["birnn"]) == bank.topics["birnn"].content_hash


def test_exported_question_files_are_plain_yaml_with_block_text() -> None:
    question = next(q for q in shipped_questions() if "\n" in q.prompt)
    text = yaml_zip.to_yaml(question).decode()
    assert yaml.safe_load(text)["id"] == question.id
    assert "prompt: |" in text


def test_invalid_yaml_in_the_zip_is_a_problem_naming_file_and_line() -> None:
    parsed = yaml_zip.parse(zipped({"rnn/bad.yaml": "id: bad\ntags: [unclosed\nprompt: x\n"}))
    assert parsed.questions == []
    [problem] = parsed.problems
    assert problem.path == "rnn/bad.yaml"
    assert problem.field.startswith("line ") and "YAML syntax error" in problem.message


def test_a_question_failing_the_schema_names_its_file_and_field() -> None:
    qid = shipped_questions()[0].id
    data = yaml.safe_load(shipped_file(qid))
    data["difficulty"] = "expert"
    files = {f"rnn/{qid}.yaml": yaml.safe_dump(data), "rnn/other.yaml": shipped_file(qid)}
    parsed = yaml_zip.parse(zipped(files))
    fields = {(p.path, p.field) for p in parsed.problems}
    assert (f"rnn/{qid}.yaml", "difficulty") in fields
    assert ("rnn/other.yaml", "id") in fields  # the id must equal the file name
    assert parsed.questions == []


def test_a_repeated_id_across_topics_is_a_problem() -> None:
    qid = shipped_questions()[0].id
    text = shipped_file(qid)
    parsed = yaml_zip.parse(zipped({f"a/{qid}.yaml": text, f"b/{qid}.yaml": text}))
    assert [q.id for q in parsed.questions] == [qid]
    [problem] = parsed.problems
    assert problem.path == f"b/{qid}.yaml" and "also used by a/" in problem.message


def test_yaml_aliases_are_refused_so_no_file_expands_without_bound() -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
    parsed = yaml_zip.parse(zipped({"rnn/laughs.yaml": laughs}))
    assert parsed.questions == []
    assert [p.message for p in parsed.problems] == ["YAML aliases (*name) are not accepted"]


def test_files_outside_the_layout_are_left_out_with_a_warning() -> None:
    qid = shipped_questions()[0].id
    files = {
        f"rnn/{qid}.yaml": shipped_file(qid),
        "README.md": "notes",
        "rnn/bugs/x.yaml": "id: x",
        "rnn/q.yml": "id: q",
    }
    parsed = yaml_zip.parse(zipped(files))
    assert [q.id for q in parsed.questions] == [qid]
    assert {w.path for w in parsed.warnings} == {"README.md", "rnn/bugs/x.yaml"}
    assert [(p.path, p.message) for p in parsed.problems] == [
        ("rnn/q.yml", "name question files *.yaml")
    ]
