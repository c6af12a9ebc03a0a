"""Spot the bug: pick a snippet's one defective line, then fix it, run in the sandbox against
the hidden tests and reported by the code questions' own test reports."""

from __future__ import annotations

from app.bank.grading import code_of, report_tests
from app.bank.schema import BugHunt, LearningMode
from app.core.errors import AnswerFormatError, NotFoundError
from app.core.markdown import render
from app.questions.catalog import Catalog
from app.runner.client import OFF_HERE, Runner, RunnerOffError
from app.runner.protocol import RunRequest, TestSpec
from app.study.schemas import BugPublic, BugSummary, FixResult, LineVerdict, TestReport
from app.study.service import StudyContent, in_range, offered


def _bugs(study: StudyContent, catalog: Catalog, slug: str) -> dict[str, BugHunt]:
    offered(catalog, slug, LearningMode.spot_the_bug)
    return study.bugs.get(slug, {})


def bug_list(study: StudyContent, catalog: Catalog, slug: str) -> list[BugSummary]:
    return [_summary(bug) for bug in _bugs(study, catalog, slug).values()]


def find_bug(study: StudyContent, catalog: Catalog, slug: str, bug_id: str) -> BugHunt:
    try:
        return _bugs(study, catalog, slug)[bug_id]
    except KeyError:
        raise NotFoundError(f"no bug '{bug_id}' in topic '{slug}'", field="bug") from None


def _summary(bug: BugHunt) -> BugSummary:
    return BugSummary(
        id=bug.id, title=bug.title, difficulty=bug.difficulty.value, task_html=render(bug.task)
    )


def bug_public(bug: BugHunt) -> BugPublic:
    return BugPublic(
        **_summary(bug).model_dump(),
        task=bug.task,
        code=bug.code,
        lines=bug.lines(),
        hints_html=[render(hint) for hint in bug.hints],
        tests=[test.name for test in bug.tests],
    )


def pick_line(bug: BugHunt, line: int) -> LineVerdict:
    """Step 1: is `line` the defective one? Said in words; the explanation once found."""
    in_range("line", line, len(bug.lines()))
    if line == bug.bug_line:
        message = f"Right: line {line} is the defective line."
        return LineVerdict(
            line=line, correct=True, message=message, explanation_html=render(bug.explanation)
        )
    message = f"Not line {line}: that line is fine. Look again; the hints may help."
    return LineVerdict(line=line, correct=False, message=message, explanation_html=None)


async def check_fix(
    runner: Runner | None, bug: BugHunt, code: str, *, learner: str, address: str | None
) -> FixResult:
    """Step 2: run the learner's fixed snippet in the sandbox against the hidden tests."""
    code = code_of(code)
    if code.replace("\r\n", "\n").strip() == bug.code.strip():
        raise AnswerFormatError("this is the snippet unchanged: fix its defective line first")
    if runner is None:
        raise RunnerOffError(f"{OFF_HERE} Checking a fix needs it.")
    tests = [TestSpec(name=test.name, code=test.code) for test in bug.tests]
    request = RunRequest(code=code, kind="code_test", tests=tests, learner=learner, address=address)
    reports = [TestReport(**r) for r in report_tests(bug.tests, await runner.run(request))]
    passed = sum(r.passed for r in reports)
    return FixResult(
        correct=passed == len(reports), passed=passed, total=len(reports), tests=reports
    )
