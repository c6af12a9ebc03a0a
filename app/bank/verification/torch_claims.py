"""Claims about torch, run in the sandbox: a question's `check`, its options' outcomes, each
variant's computed answer (twice: it must not change), and a code question's reference and
buggy solutions graded by the real grading function."""

from __future__ import annotations

import asyncio

from pydantic import ValidationError

from app.bank.checks import (
    Observation,
    answer_mismatches,
    compare,
    expected_text,
    from_run,
    observed_text,
)
from app.bank.grading import grade_code, report_tests
from app.bank.schema import AnyQuestion, ChoiceQuestion, CodeQuestion, CodeTest, Expectation
from app.bank.variants import VariantError, answer_of, check_code, fill, format_answer
from app.bank.verification.claim import Claim
from app.bank.verification.runs import Runs
from app.core.errors import AnswerFormatError
from app.core.markdown import python_blocks
from app.runner.protocol import RunResult, TestSpec

MAX_TESTS = 20  # tests one run may carry (app.runner.protocol.RunRequest)


def outcome_snippet(question: AnyQuestion) -> str | None:
    """The code options' outcomes run against: the check's, else the prompt's first block."""
    if question.check is not None:
        return question.check.code
    blocks = python_blocks(question.prompt)
    return blocks[0] if blocks else None


async def check_claims(question: AnyQuestion, runs: Runs) -> list[Claim]:
    """The check and every option's outcome, against one run of the snippet."""
    outcomes = isinstance(question, ChoiceQuestion) and any(o.outcome for o in question.options)
    snippet = outcome_snippet(question)
    if snippet is None or (question.check is None and not outcomes):
        return []
    seen = from_run(await runs.run(snippet))
    claims = []
    if question.check is not None:
        claims.append(_expectation_claim("check", question.check.expect, seen, must_hold=True))
        claims += [
            Claim("answer", "the answer is what the check claims", line, False, detail=line)
            for line in answer_mismatches(question)
        ]
    if isinstance(question, ChoiceQuestion):
        claims += [
            _expectation_claim(f"options[{i}].outcome", o.outcome, seen, must_hold=o.correct)
            for i, o in enumerate(question.options)
            if o.outcome is not None
        ]
    return claims


def _expectation_claim(
    field: str, expect: Expectation, seen: Observation, *, must_hold: bool
) -> Claim:
    mismatches = compare(expect, seen)
    observed = observed_text(expect, seen)
    if must_hold:
        return Claim(
            field, expected_text(expect), observed, not mismatches, detail="; ".join(mismatches)
        )
    said = f"a distractor says {expected_text(expect)}, which must not hold"
    return Claim(field, said, observed, bool(mismatches))


async def variant_claims(
    question: AnyQuestion, tried: list[tuple[int, dict[str, int]]], runs: Runs
) -> list[tuple[int, dict[str, int], list[Claim], AnyQuestion | None]]:
    """Each seed's answer from its check's run, and computed again in a fresh run (never the
    runner's cached result) to prove the seed fixes it; the variant's question, when built.
    The seeds' checks run as the tests of one sandbox run per MAX_TESTS seeds (the app runs
    each variant alone): each test has a namespace of its own, but torch's global state, such
    as its random generator, is shared, so a check whose answer needs it seeds it.
    """
    chunks = [tried[i : i + MAX_TESTS] for i in range(0, len(tried), MAX_TESTS)]
    observed = await asyncio.gather(*(_seed_runs(question, chunk, runs) for chunk in chunks))
    pairs = [pair for chunk in observed for pair in chunk]
    return [
        (seed, values, *_variant(question, seed, values, first, again))
        for (seed, values), (first, again) in zip(tried, pairs, strict=True)
    ]


async def _seed_runs(
    question: AnyQuestion, chunk: list[tuple[int, dict[str, int]]], runs: Runs
) -> list[tuple[Observation, Observation]]:
    tests = [TestSpec(name=f"seed {s}", code=check_code(question, v)) for s, v in chunk]
    first, again = await asyncio.gather(runs.run("", tests), runs.run("", tests, kind="snippet"))
    return list(zip(_per_test(first, tests), _per_test(again, tests), strict=True))


def _per_test(run: RunResult, tests: list[TestSpec]) -> list[Observation]:
    by_name = {test.name: test for test in run.tests}
    stopped = run.limit.message if run.limit else "the run ended before this seed's check"
    return [
        from_run(by_name[t.name]) if t.name in by_name else Observation(limit=stopped)
        for t in tests
    ]


def _variant(
    question: AnyQuestion, seed: int, values: dict[str, int], first: Observation, again: Observation
) -> tuple[list[Claim], AnyQuestion | None]:
    try:
        answer = answer_of(question, first)
        concrete = fill(question, values, answer)
    except (VariantError, ValidationError) as exc:
        claim = Claim("check", "the check computes the answer", str(exc), False, seed, values)
        return [claim], None
    shown = format_answer(answer)
    built = Claim("check", "the check computes the answer", shown, True, seed, values)
    try:
        repeated: list[int] | float | str = answer_of(question, again)
    except VariantError as exc:
        repeated = str(exc)
    seen = repeated if isinstance(repeated, str) else format_answer(repeated)
    deterministic = Claim(
        "variants",
        f"the seed fixes the answer {shown}",
        f"a second run gives {seen}",
        repeated == answer,
        seed,
        values,
    )
    return [built, deterministic], concrete


async def code_claims(question: CodeQuestion, runs: Runs) -> list[Claim]:
    """The reference passes every sample and hidden test and grades 1.0; each buggy solution
    grades below 1.0 (fails at least one hidden test)."""
    samples, tests = _specs(question.samples), _specs(question.tests)
    reference = [runs.run(question.solution_code, samples), runs.run(question.solution_code, tests)]
    buggy = [runs.run(b.code, tests) for b in question.buggy_solutions]
    sample_run, test_run, *buggy_runs = await asyncio.gather(*reference, *buggy)
    claims = _test_claims("samples", question.samples, sample_run)
    claims += _test_claims("tests", question.tests, test_run)
    claims.append(_graded("solution_code", question, question.solution_code, test_run, right=True))
    claims += [
        _graded(f"buggy_solutions[{i}]", question, b.code, run, right=False)
        for i, (b, run) in enumerate(zip(question.buggy_solutions, buggy_runs, strict=True))
    ]
    return claims


def _specs(tests: list[CodeTest]) -> list[TestSpec]:
    return [TestSpec(name=t.name, code=t.code) for t in tests]


def _test_claims(kind: str, tests: list[CodeTest], run: RunResult) -> list[Claim]:
    return [
        Claim(
            f"{kind}[{report['name']!r}]",
            f"the reference solution passes: {report['expected']}",
            report["got"],
            report["passed"],
            detail="" if report["passed"] else f"solution_code fails: {report['message']}",
        )
        for report in report_tests(tests, run)
    ]


def _graded(field: str, question: CodeQuestion, code: str, run: RunResult, *, right: bool) -> Claim:
    claims = "grades 1.0" if right else "fails at least one hidden test (grades below 1.0)"
    try:
        graded = grade_code(question, code, run)
    except AnswerFormatError as exc:
        return Claim(field, claims, f"refused: {exc}", False)
    failed = [t["name"] for t in graded.given["tests"] if not t["passed"]]
    seen = f"grades {graded.score:g}" + (
        f", failing {', '.join(map(repr, failed))}" if failed else ", passing every hidden test"
    )
    return Claim(field, claims, seen, graded.score == 1.0 if right else graded.score < 1.0)
