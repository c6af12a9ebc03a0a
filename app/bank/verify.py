"""Verify questions: every claim each makes, checked against the learner's rendering, the real
grading functions and torch run in the sandbox (CLI, instructor API, and later the editor).

A template (a question with variants) is verified on `seeds` seeds (at least every variant
learners can be served, plus the seeds its author pins): each seed's check computes the answer
twice, and the variant built from it renders and grades like any question. Other questions are
verified once: nothing in them depends on a seed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from app.bank.loader import Problem
from app.bank.schema import AnyQuestion, CodeQuestion
from app.bank.variants import draw, seeds, variants_of
from app.bank.verification.claim import Claim, Verification
from app.bank.verification.learner import learner_claims
from app.bank.verification.runs import PARALLEL, Runs
from app.bank.verification.torch_claims import check_claims, code_claims, variant_claims
from app.runner.client import Runner

SEEDS = 20  # variants tried per template, as the editor's verify does

__all__ = ["PARALLEL", "SEEDS", "Claim", "Verification", "verify_many", "verify_question"]


async def verify_question(
    question: AnyQuestion, runner: Runner, *, seeds: int = SEEDS
) -> Verification:
    """Every claim of one question (its runs in parallel, PARALLEL at once)."""
    return await _verify(question, Runs(runner), seeds)


async def verify_many(
    questions: Sequence[AnyQuestion], runner: Runner, *, seeds: int = SEEDS
) -> list[Verification]:
    """verify_question for each, in order, all sharing one gate of PARALLEL runs."""
    runs = Runs(runner)
    return list(await asyncio.gather(*(_verify(q, runs, seeds) for q in questions)))


async def verify_questions(
    questions: Iterable[tuple[str, AnyQuestion]], runner: Runner, *, seeds: int = SEEDS
) -> tuple[int, list[Problem]]:
    """For (file name, question) pairs: how many claims were checked, and one Problem per
    claim that does not hold, naming its field and seed and saying what the question claims
    and what really happened."""
    named = list(questions)
    results = await verify_many([q for _, q in named], runner, seeds=seeds)
    problems = [
        Problem(name, claim.where(), claim.message())
        for (name, _), result in zip(named, results, strict=True)
        for claim in result.failures
    ]
    return sum(len(result.claims) for result in results), problems


def verify_seeds(question: AnyQuestion, wanted: int) -> list[tuple[int, dict[str, int]]]:
    """The seeds a template is verified on: the first `wanted` with distinct values (at least
    every one learners are served), then the author's pinned seeds."""
    variants = variants_of(question)
    widened = variants.model_copy(update={"count": max(wanted, variants.count)})
    found = seeds(question.model_copy(update={"variants": widened}))
    known = {seed for seed, _ in found}
    return found + [(s, draw(question, s)) for s in question.verify_seeds if s not in known]


async def _verify(question: AnyQuestion, runs: Runs, wanted: int) -> Verification:
    if question.variants is not None:
        per_seed = await variant_claims(question, verify_seeds(question, wanted), runs)
        claims = [
            claim
            for seed, values, found, concrete in per_seed
            for claim in found + (learner_claims(concrete, seed, values) if concrete else [])
        ]
        return Verification(question.id, claims)
    claims = learner_claims(question, None, {})
    if isinstance(question, CodeQuestion):
        claims += await code_claims(question, runs)
    else:
        claims += await check_claims(question, runs)
    return Verification(question.id, claims)
