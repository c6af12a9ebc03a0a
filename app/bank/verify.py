"""Verify every `check` in the bank through the sandbox runner (CLI and instructor API)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from app.bank.checks import answer_mismatches, compare, from_run
from app.bank.grading import report_tests
from app.bank.loader import Problem
from app.bank.schema import AnyQuestion, CodeQuestion
from app.bank.variants import check_code, seeds, variant_problem
from app.runner.client import RunnerClient
from app.runner.protocol import RunRequest, TestSpec

PARALLEL = 4  # runs in flight at once; the runner queues beyond its own parallelism


async def verify_questions(
    questions: Iterable[tuple[str, AnyQuestion]], runner: RunnerClient
) -> tuple[int, list[Problem]]:
    """For (file name, question) pairs: how many claims ran (checks, each variant of a
    parameterised question, and code questions' reference answers against their hidden tests)
    and one Problem per disagreement, saying what the question claims and what torch did."""
    todo = [(n, q) for n, q in questions if q.check is not None or isinstance(q, CodeQuestion)]
    gate = asyncio.Semaphore(PARALLEL)

    async def verify(name: str, question: AnyQuestion) -> list[Problem]:
        async with gate:
            if isinstance(question, CodeQuestion):
                lines = await _reference_fails(question, runner)
                return [Problem(name, "tests", line) for line in lines]
            if question.variants is not None:
                return [
                    Problem(name, "variants", line)
                    for line in await _variants_fail(question, runner)
                ]
            check = question.check
            assert check is not None
            result = await runner.run(RunRequest(code=check.code, kind="check"))
        lines = compare(check.expect, from_run(result)) + answer_mismatches(question)
        return [Problem(name, "check", line) for line in lines]

    found = await asyncio.gather(*(verify(name, q) for name, q in todo))
    claims = sum(len(seeds(q)) if q.variants else 1 for _, q in todo)
    return claims, [problem for problems in found for problem in problems]


async def _variants_fail(question: AnyQuestion, runner: RunnerClient) -> list[str]:
    lines = []
    for seed, values in seeds(question):
        result = await runner.run(RunRequest(code=check_code(question, values), kind="check"))
        if line := variant_problem(question, seed, values, from_run(result)):
            lines.append(line)
    return lines


async def _reference_fails(question: CodeQuestion, runner: RunnerClient) -> list[str]:
    """What the reference answer fails: of the samples, then of the hidden tests (one run
    each, as Run and Submit run them)."""
    lines = []
    for kind, tests in (("sample", question.samples), ("test", question.tests)):
        specs = [TestSpec(name=t.name, code=t.code) for t in tests]
        request = RunRequest(code=question.solution_code, kind="check", tests=specs)
        reports = report_tests(tests, await runner.run(request))
        lines += [
            f"solution_code fails {kind} {r['name']!r}: {r['message']}"
            for r in reports
            if not r["passed"]
        ]
    return lines
