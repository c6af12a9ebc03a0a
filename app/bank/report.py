"""Bank-wide verification: validation plus every `check` run against the installed torch."""

from __future__ import annotations

import json
from pathlib import Path

from app.bank.checks import answer_mismatches, code_question_problems, observe, run_check
from app.bank.loader import Bank, Problem
from app.bank.schema import AnyQuestion, CodeQuestion, QuestionAdapter, Topic
from app.bank.variants import check_code, seeds, variant_problem

SCHEMA_DIR = Path(__file__).resolve().parent.parent.parent / "questions" / "_schema"


def check_problems(bank: Bank, root: Path) -> list[Problem]:
    """Every mismatch between a question's claims and what torch really does."""
    problems = []
    for topic in bank.topics.values():
        for loaded in topic.questions:
            question = loaded.question
            rel = str(loaded.path.relative_to(root))
            if isinstance(question, CodeQuestion):
                problems += [
                    Problem(rel, "tests", line) for line in code_question_problems(question)
                ]
            problems += [Problem(rel, "check", line) for line in claim_problems(question)]
    return problems


def claim_problems(question: AnyQuestion) -> list[str]:
    """The question's check run here: each mismatch, or each variant that cannot be built."""
    if question.check is None:
        return []
    if question.variants is None:
        return run_check(question.check) + answer_mismatches(question)
    lines = []
    for seed, values in seeds(question):
        seen = observe(check_code(question, values))
        if line := variant_problem(question, seed, values, seen):
            lines.append(line)
    return lines


def editor_schemas() -> dict[str, str]:
    """JSON Schemas for editors, by file name, as they are committed under questions/schema/."""
    schemas = {
        "question.schema.json": QuestionAdapter.json_schema(),
        "topic.schema.json": Topic.model_json_schema(),
    }
    return {name: json.dumps(s, indent=2, sort_keys=True) + "\n" for name, s in schemas.items()}
