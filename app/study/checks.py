"""The study content's claims, run against the real torch installed here (trusted content only,
like app.bank.checks): each bug's snippet fails a hidden test and its fix passes them all, and
each worked problem's check holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.bank.checks import compare, observe, run_check
from app.bank.loader import Bank, Problem
from app.bank.schema import BugHunt, CodeTest, WorkedSeries


def study_problems(bank: Bank, root: Path) -> list[Problem]:
    """Every mismatch between the study content and torch, by file and field."""
    problems = []
    for topic in bank.topics.values():
        folder = topic.path.parent.relative_to(root)
        for bug in topic.bugs:
            rel = str(folder / "bugs" / f"{bug.id}.yaml")
            problems += [Problem(rel, field, line) for field, line in bug_problems(bug)]
        for series in topic.worked:
            rel = str(folder / "worked" / f"{series.id}.yaml")
            problems += [Problem(rel, field, line) for field, line in worked_problems(series)]
    return problems


def bug_problems(bug: BugHunt) -> list[tuple[str, str]]:
    """(field, problem): the fix must pass every test, and the snippet must fail one."""
    problems = [
        ("fixed_code", f"fails test {name!r}: {line}")
        for name, line in failures(bug.tests, bug.fixed_code)
    ]
    if not failures(bug.tests, bug.code):
        problems.append(("code", "the buggy snippet already passes every test"))
    return problems


def worked_problems(series: WorkedSeries) -> list[tuple[str, str]]:
    return [
        (f"problems[{index}].check", line)
        for index, problem in enumerate(series.problems)
        for line in run_check(problem.check)
    ]


def failures(tests: list[CodeTest], code: str) -> list[tuple[str, str]]:
    """(test name, problem) for each test the code fails, each test run in its own copy of
    the namespace the code left."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    ran = observe(code, namespace)
    if ran.exception is not None:
        return [(test.name, f"the code raises {ran.exception}") for test in tests]
    return [
        (test.name, line)
        for test in tests
        for line in compare(test.expect, observe(test.code, dict(namespace)))
    ]
