"""HTML pages that bring the features together: home (every topic, with the learner's
progress) and a topic's hub ("choose how to learn")."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.attempts.summary import learner_sessions, to_resume
from app.core.bounds import Slug
from app.core.deps import SessionDep
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.learners.deps import LearnerDep
from app.progress.service import all_progress, topic_progress
from app.questions import service
from app.questions.deps import CatalogDep

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

# What each learning mode is, in the order the topic page offers them.
MODES = {
    "learn": ("Learn", "Read the concept notes with worked code.", "learn_page"),
    "practice": (
        "Practice",
        "One question at a time with instant feedback.",
        "practice_start_page",
    ),
    "test": ("Test", "10 questions, scored at the end.", "test_start_page"),
    "review": ("Review mistakes", "Try again what you got wrong.", "mistakes_page"),
    "lab": (
        "Experiment lab",
        "Train real models on a toy data set until a BiRNN stops overfitting.",
        "lab_page",
    ),
    "flashcards": (
        "Flashcards",
        "Cards from the concept notes: recall, then check.",
        "flashcards_page",
    ),
    "spot_the_bug": (
        "Spot the bug",
        "Find the one defective line in a snippet, then fix it and run the tests.",
        "bugs_page",
    ),
    "worked_examples": (
        "Worked examples",
        "Problems worked step by step, then with the last steps left to you.",
        "worked_page",
    ),
}


@router.get("/")
def home(request: Request, db: SessionDep, catalog: CatalogDep, learner: LearnerDep) -> Response:
    progress = {p.topic: p for p in all_progress(db, catalog, learner.known_id())}
    topics = service.list_topics(catalog)
    return render_page(request, "home.html", {"topics": topics, "progress": progress})


@router.get("/topics/{slug}")
def topic_page(
    slug: Slug, request: Request, db: SessionDep, catalog: CatalogDep, learner: LearnerDep
) -> Response:
    topic = service.topic_detail(catalog, slug)
    modes = [(m, *MODES[m]) for m in topic.modes if m in MODES]
    progress = topic_progress(db, catalog, learner.known_id(), catalog.topic(slug))
    resume = to_resume(learner_sessions(db, catalog, learner.known_id(), topic=slug))
    return render_page(
        request,
        "topic.html",
        {"topic": topic, "modes": modes, "progress": progress, "resume": resume},
    )
