"""Variants of parameterised questions as version rows, each answer computed by real torch.

Runs in the background after start-up (app.main): until then the catalog is served without
the templates (`without_templates`). A variant stored for the runner's torch version is reused;
the others are computed by running the template's check in the sandbox once the runner is
ready. A template left with no variants (no runner and nothing stored, or every run failed) is
taken out of the catalog with a warning: no learner sees an answer that torch did not compute.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.bank.checks import from_run
from app.bank.loader import data_hash
from app.bank.schema import AnyQuestion, QuestionAdapter
from app.bank.variants import VariantError, check_code, describe, seeds, variant_of
from app.core.db import Database
from app.core.errors import AppError
from app.questions.catalog import Catalog, CatalogQuestion
from app.questions.models import QuestionVersion
from app.runner.client import Runner
from app.runner.protocol import RunRequest

log = logging.getLogger("torchquiz")

PARALLEL = 4  # runs in flight at once, below the runner's queue depth


def without_templates(catalog: Catalog) -> Catalog:
    """The catalog to serve until the variants are known: parameterised questions left out."""
    return _with_variants(catalog, {}, quiet=True)


async def materialize(
    catalog: Catalog,
    database: Database,
    runner: Runner | None,
    torch: str | None,
    *,
    final: bool = True,
) -> Catalog:
    """The catalog with every template replaced by its variants (or left out). `torch` is the
    runner's torch version (None without a runner: stored variants of any version); without
    `runner`, stored variants only. Not `final`: a first look, before the runner can compute
    the missing ones (templates left out quietly)."""
    templates = [q for t in catalog.topics.values() for q in t.questions if q.model.variants]
    if not templates:
        return catalog
    try:
        found = await _variants(templates, database, runner if torch else None, torch)
    except IntegrityError:  # another process stored the same variants first: read theirs
        found = await _variants(templates, database, None, torch)
    return _with_variants(catalog, found, quiet=not final)


async def _variants(
    templates: list[CatalogQuestion],
    database: Database,
    runner: Runner | None,
    torch: str | None,
) -> dict[str, list[tuple[int, AnyQuestion]]]:
    """Slug -> [(version id, question)] in seed order, stored ones first looked up. Database
    work runs where this database's routes run (a thread for a server database): the app is
    serving meanwhile."""
    stored = await database.run(_all_stored, templates, torch)
    wanted = {q.slug: [seed for seed, _ in seeds(q.model)] for q in templates}
    computed = {}
    if runner is not None:
        gate = asyncio.Semaphore(PARALLEL)
        jobs = [
            _compute(q.slug, q.model, seed, values, runner, gate)
            for q in templates
            for seed, values in seeds(q.model)
            if seed not in stored[q.slug]
        ]
        computed = {key: model for key, model in await asyncio.gather(*jobs) if model}
    return await database.run(_store_all, templates, stored, wanted, computed, torch)


def _all_stored(
    db: Session, templates: list[CatalogQuestion], torch: str | None
) -> dict[str, dict[int, tuple[int, AnyQuestion]]]:
    return {q.slug: _stored(db, q.version_id, torch) for q in templates}


def _store_all(
    db: Session,
    templates: list[CatalogQuestion],
    stored: dict[str, dict[int, tuple[int, AnyQuestion]]],
    wanted: dict[str, list[int]],
    computed: dict[tuple[str, int], AnyQuestion],
    torch: str | None,
) -> dict[str, list[tuple[int, AnyQuestion]]]:
    found: dict[str, list[tuple[int, AnyQuestion]]] = {}
    for q in templates:
        rows = stored[q.slug]
        for seed in wanted[q.slug]:
            if (q.slug, seed) in computed:
                rows[seed] = _store(db, q, seed, computed[q.slug, seed], torch)
        found[q.slug] = [rows[seed] for seed in wanted[q.slug] if seed in rows]
    return found


def _stored(db: Session, template_id: int, torch: str | None) -> dict[int, tuple[int, AnyQuestion]]:
    """Seed -> (version id, question) stored for this torch version (any, newest first, when
    there is no runner to ask)."""
    query = select(QuestionVersion).where(QuestionVersion.variant_of_id == template_id)
    if torch is not None:
        query = query.where(QuestionVersion.torch_version == torch)
    rows: dict[int, tuple[int, AnyQuestion]] = {}
    for row in db.scalars(query.order_by(QuestionVersion.id.desc())):
        if row.seed is not None and row.seed not in rows:
            rows[row.seed] = (row.id, QuestionAdapter.validate_python(row.data))
    return rows


async def _compute(
    slug: str,
    template: AnyQuestion,
    seed: int,
    values: dict[str, int],
    runner: Runner,
    gate: asyncio.Semaphore,
) -> tuple[tuple[str, int], AnyQuestion | None]:
    request = RunRequest(code=check_code(template, values), kind="check")
    try:
        async with gate:
            result = await runner.run(request)
        return (slug, seed), variant_of(template, values, from_run(result))
    except (AppError, VariantError) as exc:
        log.warning("question %s, variant %d (%s): %s", slug, seed, describe(values), exc)
        return (slug, seed), None


def _store(
    db: Session, template: CatalogQuestion, seed: int, model: AnyQuestion, torch: str | None
) -> tuple[int, AnyQuestion]:
    parent = db.get(QuestionVersion, template.version_id)
    assert parent is not None
    data = model.model_dump(mode="json")
    # Unique per template version, seed and torch version, as the (question, hash) key needs.
    key = {"variant_of": parent.content_hash, "seed": seed, "torch": torch, "data": data}
    digest = data_hash(key)
    same = select(QuestionVersion.id).where(
        QuestionVersion.question_id == template.id, QuestionVersion.content_hash == digest
    )
    if (existing := db.scalar(same)) is not None:
        return existing, model
    row = QuestionVersion(
        question_id=template.id,
        number=parent.number,
        content_hash=digest,
        type=model.type,
        difficulty=model.difficulty.value,
        data=data,
        source_path=parent.source_path,
        variant_of_id=parent.id,
        seed=seed,
        torch_version=torch,
    )
    db.add(row)
    db.flush()
    return row.id, model


def _with_variants(
    catalog: Catalog, found: dict[str, list[tuple[int, AnyQuestion]]], *, quiet: bool = False
) -> Catalog:
    topics, known = [], dict[int, AnyQuestion]()
    for topic in catalog.topics.values():
        questions = []
        for q in topic.questions:
            if q.model.variants is None:
                questions.append(q)
            elif variants := found.get(q.slug):
                known.update(variants)
                first_id, first = variants[0]
                ids = tuple(version_id for version_id, _ in variants)
                questions.append(
                    dataclasses.replace(
                        q, version_id=first_id, model=first, variant_ids=ids, template=q.model
                    )
                )
            elif not quiet:
                log.warning(
                    "question %s left out: none of its variants has a computed answer", q.slug
                )
        topics.append(dataclasses.replace(topic, questions=tuple(questions)))
    return Catalog(topics, known, catalog.course_topics)
