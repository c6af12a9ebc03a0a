"""Verify benchmark: the shipped bank's verify through the sandbox runner, beside the same
checks run one after another in one plain process.

Starts a runner (as `torchquiz questions verify` does) and waits until its workers are warm,
then times, with nothing in the runner's cache of trusted results:

- verify of every non-code question, then of every code question, 20 seeds per template
  (app.bank.verify.verify_many: every claim, runs PARALLEL at once);
- the same bank verified again: what a repeat costs with the runner's cache filled;
- a single question's verify as the editor sees it after an edit (its code changed by a
  comment, so no run is cached), for a choice question, a template and a code question.

The ratio baseline is the same runs made sequentially in this process with
app.bank.checks.observe (torch imported beforehand, no sandbox). Targets (issue 12): 200
non-code questions x 20 seeds within 5 minutes on 2 cores; a single question within 2 s.

    python bench/verify.py [--seeds 20] [--uid-base 62000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.bank.checks import observe
from app.bank.loader import load_bank
from app.bank.schema import AnyQuestion, CodeQuestion
from app.bank.variants import check_code
from app.bank.verify import PARALLEL, verify_many, verify_question, verify_seeds
from app.runner.client import RunnerClient
from app.runner.embedded import embedded_runner
from app.runner.settings import RunnerSettings

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS_TARGET, SINGLE_TARGET = 200, 2.0
SAMPLE_IDS = ("default-layout-runs-fine", "bilstm-hn-shape-random-sizes", "packed-bilstm-encoder")


def bank() -> list[AnyQuestion]:
    loaded = load_bank(ROOT / "questions")
    return [q.question for topic in loaded.topics.values() for q in topic.questions]


def sequential_seconds(questions: Sequence[AnyQuestion], seeds: int) -> float:
    """The runs verify makes, one after another in this process: the ratio baseline."""
    observe("import torch")  # the import is not part of the checks
    start = time.perf_counter()
    for question in questions:
        if isinstance(question, CodeQuestion):
            runs = [(question.solution_code, question.samples)]
            runs += [(code, question.tests) for code in [question.solution_code]]
            runs += [(buggy.code, question.tests) for buggy in question.buggy_solutions]
            for code, tests in runs:
                namespace: dict[str, Any] = {"__name__": "__main__"}
                observe(code, namespace)
                for test in tests:
                    observe(test.code, dict(namespace))
        elif question.variants is not None:
            for _, values in verify_seeds(question, seeds):
                observe(check_code(question, values))
                observe(check_code(question, values))  # computed twice: determinism
        elif question.check is not None:
            observe(question.check.code)
    return time.perf_counter() - start


def edited(question: AnyQuestion) -> AnyQuestion:
    """The question after an edit the runner has not seen: each code gains a comment."""
    mark = f"\n# edited {time.time_ns()}\n"
    if isinstance(question, CodeQuestion):
        buggy = [b.model_copy(update={"code": b.code + mark}) for b in question.buggy_solutions]
        return question.model_copy(
            update={"solution_code": question.solution_code + mark, "buggy_solutions": buggy}
        )
    assert question.check is not None
    check = question.check.model_copy(update={"code": question.check.code + mark})
    return question.model_copy(update={"check": check})


async def timed(coroutine: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = await coroutine
    return result, time.perf_counter() - start


async def through_runner(url: str, questions: list[AnyQuestion], seeds: int) -> None:
    client = RunnerClient(url)
    try:
        plain = [q for q in questions if not isinstance(q, CodeQuestion)]
        code = [q for q in questions if isinstance(q, CodeQuestion)]
        plain_results, plain_s = await timed(verify_many(plain, client, seeds=seeds))
        code_results, code_s = await timed(verify_many(code, client, seeds=seeds))
        again, again_s = await timed(verify_many(questions, client, seeds=seeds))
        singles = {}
        for qid in SAMPLE_IDS:
            question = next(q for q in questions if q.id == qid)
            result, seconds = await timed(verify_question(edited(question), client, seeds=seeds))
            singles[qid] = (len(result.claims), seconds, result.passed)
    finally:
        await client.aclose()
    claims = sum(len(r.claims) for r in plain_results + code_results)
    failing = sum(len(r.failures) for r in plain_results + code_results + again)
    baseline = sequential_seconds(questions, seeds)
    total = plain_s + code_s
    per_plain = plain_s / len(plain)
    print(
        f"\nshipped bank: {len(questions)} questions, {claims} claims, {seeds} seeds per template"
    )
    print(f"runner: {PARALLEL} runs in flight; {failing} failing claims\n")
    print(f"{'figure':52} {'seconds':>8}  vs sequential")
    print(f"{'sequential, one plain process (observe)':52} {baseline:8.2f}  {1:6.2f}x")
    print(f"{'verify through the runner, cold cache':52} {total:8.2f}  {total / baseline:6.2f}x")
    print(f"{'  of it: ' + str(len(plain)) + ' non-code questions':52} {plain_s:8.2f}")
    print(f"{'  of it: ' + str(len(code)) + ' code questions':52} {code_s:8.2f}")
    print(f"{'verify again, runner cache filled':52} {again_s:8.2f}  {again_s / baseline:6.2f}x")
    projected = per_plain * QUESTIONS_TARGET
    print(f"{'projected: 200 non-code questions (target 300 s)':52} {projected:8.2f}")
    for qid, (count, seconds, passed) in singles.items():
        label = f"one question after an edit: {qid}"
        note = f"{count} claims{'' if passed else ', FAILING'} (target {SINGLE_TARGET:g} s)"
        print(f"{label[:52]:52} {seconds:8.2f}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument(
        "--uid-base", type=int, default=62000, help="the runner's sandbox user ids (privileged)"
    )
    args = parser.parse_args()
    questions = bank()
    with tempfile.TemporaryDirectory() as folder:
        socket = Path(folder) / "runner.sock"
        warm = time.perf_counter()
        with embedded_runner(socket, RunnerSettings(uid_base=args.uid_base)) as url:
            print(f"runner warm after {time.perf_counter() - warm:.1f} s (not counted)")
            asyncio.run(through_runner(url, questions, args.seeds))


if __name__ == "__main__":
    main()
