"""The course bank's pages: the bank list, the question editor (form and YAML source, live
preview, verify, publish, retire) and a question's history with diffs and revert.

Forms work without JavaScript: list rows are added and removed by submit buttons that show the
form again; the YAML source is taken over by a submit of its own. With JavaScript
(static/js/editor-form.js) the preview refreshes as the author types and the two tabs convert
into each other; both take their part out of the same page the server renders here.

Routes that await the code runner (preview, verify) are async: their access check's session is
ended before the wait (`_ended`), and their database work goes through `database.run`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app.authoring import bank, editor, service
from app.authoring.editor import EditorForm
from app.authoring.preview import Preview, PreviewSettings, preview, preview_now
from app.bank.loader import Problem
from app.bank.schema import AnyQuestion, Difficulty
from app.core.deps import DatabaseDep, SessionDep, get_db
from app.core.errors import AppError, ConflictError
from app.core.routing import UnitOfWorkRoute
from app.core.templating import render_page
from app.courses.deps import ContentViewDep, CourseAccess, course_access
from app.courses.models import Course
from app.learners.deps import CsrfProtected
from app.learners.models import User
from app.questions.catalog import Catalog
from app.questions.deps import CatalogDep
from app.runner.client import REFUSALS, RunnerState

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

ContentEditDep = Annotated[CourseAccess, Depends(course_access("content:edit"))]
FormText = Annotated[str, Form()]


ViewThenEnded = Annotated[CourseAccess, Depends(course_access("content:view", then_close=True))]
EditThenEnded = Annotated[CourseAccess, Depends(course_access("content:edit", then_close=True))]
# The access check's session among the route's own dependencies (see the role matrix test).
ASYNC_DEPENDENCIES = [CsrfProtected, Depends(get_db)]


async def posted_form(request: Request) -> list[tuple[str, str]]:
    """Every text field of the posted form, repeated names kept (the editor's names are paths)."""
    form = await request.form()
    return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]


PostedDep = Annotated[list[tuple[str, str]], Depends(posted_form)]

NOTICES = {
    "created": "Question created as a draft. Verify it, then publish it for learners.",
    "saved": "Saved as a new version. Verify it before publishing.",
    "verified-passed": "Verified: every claim agrees with torch. You can publish this version.",
    "verified-failed": "Verified: a claim disagrees with torch. See the failures below.",
    "published": "Published: learners get this version from now on.",
    "retired": "Retired: the question is out of new sessions; its history stays.",
    "reverted": "Reverted: that version is the newest again. Verify it before publishing.",
    "copied": "Copied from the shipped bank as a draft.",
    "bulk": "Done.",
}
TYPE_LABELS = {
    "single_choice": "Single choice",
    "multiple_select": "Multiple select",
    "numeric": "Numeric",
    "tensor_shape": "Tensor shape",
    "short_text": "Short text",
    "code": "Code",
}


def _go(request: Request, name: str, done: str, **params: Any) -> RedirectResponse:
    url = request.url_for(name, **params).include_query_params(done=done)
    return RedirectResponse(url, status_code=303)


# --- what the editor page shows about the saved question ---


def _saved_state(db: Session, course: Course, qid: str | None) -> dict[str, Any]:
    """The question's newest version, status and latest verify, as plain data (an async route
    renders after its session has ended)."""
    if qid is None:
        return {"version": None, "status": None, "verification": None, "question": None}
    row = bank.find_question(db, course, qid)
    version = bank.version_of(db, row)
    verified = bank.latest_verification(db, version.id)
    return {
        "version": {"id": version.id, "number": version.number, "hash": version.content_hash},
        "status": bank.status_of(row),
        "verification": _verification_view(verified) if verified else None,
        "question": bank.model_of(version),
    }


def _verification_view(row: Any) -> dict[str, Any]:
    claims = sorted(row.claims, key=lambda c: (bool(c["passed"]), c.get("seed") or -1))
    return {
        "passed": row.passed,
        "claims": claims,
        "failures": sum(1 for c in claims if not c["passed"]),
        "torch": row.torch_version,
        "seeds": row.seeds,
        "when": row.created_at,
    }


def _editor_page(
    request: Request,
    access: CourseAccess,
    state: dict[str, Any],
    form: EditorForm,
    *,
    problems: list[Problem] | None = None,
    source: str | None = None,
    shown: Preview | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    problems = problems or []
    if source is None:
        question, _, data = editor.parse_form(form)
        source = editor.yaml_of(question) if question else editor.yaml_of_data(data)
    version = state["version"]
    posted = {k: v for k, v in extra.pop("posted", [])}
    settings = extra.pop("preview_settings", None) or PreviewSettings.read(posted)
    if shown is None and not problems:
        question, _, _ = editor.parse_form(form)
        shown = preview_now(question, settings) if question is not None else None
    names = editor.field_names(form)
    context = {
        "course": access.course,
        "can": access.permissions,
        "qid": extra.pop("qid", None),
        "form": form,
        "problems": problems,
        "placed": editor.place_problems(problems, names),
        "summary": [(p, editor.anchor_of(p.field, names)) for p in problems],
        "source": source,
        "version": version,
        "base_version_id": posted.get("base_version_id") or (version["id"] if version else ""),
        "message": posted.get("message", ""),
        "status": state["status"],
        "verification": state["verification"],
        "preview": shown,
        "settings": settings,
        "type_label": TYPE_LABELS.get(form.type, form.type),
        "difficulties": [d.value for d in Difficulty],
        "notice": NOTICES.get(request.query_params.get("done", "")),
        **extra,
    }
    return render_page(
        request, "authoring/editor.html", context, status_code=status, headers=headers
    )


# --- the bank list ---

FILTERS = ("text", "tag", "difficulty", "type", "status", "verified")
STATUSES = ("draft", "published", "retired")
VERIFY_RESULTS = {
    "passed": "verify passed",
    "failed": "claim disagrees with torch",
    "none": "not verified",
}


def _filters(request: Request) -> dict[str, str]:
    """The list's filters from the query; an unknown value is no filter (never a 500)."""
    allowed = {
        "difficulty": {d.value for d in Difficulty},
        "type": set(editor.TYPES),
        "status": set(STATUSES),
        "verified": set(VERIFY_RESULTS),
    }
    found = {}
    for name in FILTERS:
        value = request.query_params.get(name, "").strip()[:100]
        if value and (name not in allowed or value in allowed[name]):
            found[name] = value
    return found


def _bank_page(
    request: Request,
    db: Session,
    access: CourseAccess,
    catalog: Any,
    *,
    problem: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    filters = _filters(request)
    items = service.list_questions(db, access.course, **filters)  # type: ignore[arg-type]
    context = {
        "course": access.course,
        "can": access.permissions,
        "items": items,
        "filters": filters,
        "types": TYPE_LABELS,
        "difficulties": [d.value for d in Difficulty],
        "statuses": STATUSES,
        "verify_results": VERIFY_RESULTS,
        "shipped": [(q.slug, t.topic.title) for t in catalog.topics.values() for q in t.questions],
        "problem": problem,
        "notice": notice or NOTICES.get(request.query_params.get("done", "")),
    }
    return render_page(request, "authoring/bank.html", context, status_code=status)


@router.get("/courses/{slug}/bank")
def bank_page(
    request: Request, db: SessionDep, access: ContentViewDep, catalog: CatalogDep
) -> Response:
    return _bank_page(request, db, access, catalog)


@router.post("/courses/{slug}/bank/copy", dependencies=[CsrfProtected])
def copy_form(
    request: Request,
    db: SessionDep,
    access: ContentEditDep,
    catalog: CatalogDep,
    shipped: FormText = "",
) -> Response:
    try:
        row = service.copy_shipped(
            db, access.course, catalog, shipped, author_id=access.account.user_id
        )
    except AppError as error:
        db.rollback()
        return _bank_page(request, db, access, catalog, problem=error.message, status=error.status)
    return _go(request, "editor_page", "copied", slug=access.course.slug, qid=row.slug)


@router.post("/courses/{slug}/bank/bulk", dependencies=ASYNC_DEPENDENCIES)
async def bulk_form(
    request: Request,
    database: DatabaseDep,
    access: EditThenEnded,
    posted: PostedDep,
    catalog: CatalogDep,
) -> Response:
    """Tag, retire or verify the ticked questions; the list again, saying what was done."""
    slugs = [v for k, v in posted if k == "selected"][:500]
    action = dict(posted).get("bulk", "")
    tags = [t.strip() for t in dict(posted).get("tags", "").split(",") if t.strip()]
    user = access.account.user_id
    course_id = access.course.id
    try:
        if not slugs:
            raise ConflictError("tick at least one question first", field="selected")
        if action == "verify":
            rows = await service.bulk_verify(
                database,
                request.app.state.runner,
                request.app.state.runner_state,
                course_id,
                slugs,
                user,
            )
            failed = sum(1 for r in rows if not r.passed)
            notice = (
                f"Verified {len(rows)} questions: {len(rows) - failed} passed, "
                f"{failed} disagree with torch."
            )
        elif action in ("tag", "untag", "retire"):
            notice = await database.run(_bulk_change, catalog, course_id, action, slugs, tags, user)
        else:
            raise ConflictError("choose what to do with the ticked questions", field="bulk")
    except AppError as error:
        return await database.run(_bulk_answer, request, access, error.message, None, error.status)
    return await database.run(_bulk_answer, request, access, None, notice, 200)


def _bulk_change(
    db: Session,
    catalog: Catalog,
    course_id: int,
    action: str,
    slugs: list[str],
    tags: list[str],
    user: int,
) -> str:
    course = db.get(Course, course_id)
    assert course is not None
    if action == "retire":
        done = service.bulk_retire(db, catalog, course, slugs)
        return f"Retired {len(done)} questions."
    if not tags:
        raise ConflictError("give the tags to add or remove, comma-separated", field="tags")
    add, remove = (tags, []) if action == "tag" else ([], tags)
    changed = service.bulk_tag(db, course, slugs, add, remove, user)
    return f"{len(changed)} questions changed (a new version each)."


def _bulk_answer(
    db: Session,
    request: Request,
    access: CourseAccess,
    problem: str | None,
    notice: str | None,
    status: int,
) -> Response:
    course = db.get(Course, access.course.id)
    assert course is not None
    again = CourseAccess(course, access.account, access.roles)
    return _bank_page(
        request, db, again, request.app.state.catalog, problem=problem, notice=notice, status=status
    )


# --- the editor ---


@router.get("/courses/{slug}/bank/new")
def new_question_page(
    request: Request, db: SessionDep, access: ContentEditDep, type: str = "single_choice"
) -> Response:
    if type not in editor.TYPES:
        type = "single_choice"
    return _editor_page(
        request, access, _saved_state(db, access.course, None), editor.blank_form(type)
    )


@router.post("/courses/{slug}/bank/new", dependencies=[CsrfProtected])
def create_question_form(
    request: Request, db: SessionDep, access: ContentEditDep, posted: PostedDep
) -> Response:
    state = _saved_state(db, access.course, None)
    return _edit(request, db, access, None, state, posted)


@router.get("/courses/{slug}/bank/{qid}")
def editor_page(request: Request, db: SessionDep, access: ContentViewDep, qid: str) -> Response:
    state = _saved_state(db, access.course, qid)
    form = editor.form_of(state["question"])
    return _editor_page(request, access, state, form, qid=qid)


@router.post("/courses/{slug}/bank/{qid}", dependencies=[CsrfProtected])
def save_question_form(
    request: Request, db: SessionDep, access: ContentEditDep, qid: str, posted: PostedDep
) -> Response:
    state = _saved_state(db, access.course, qid)
    return _edit(request, db, access, qid, state, posted)


def _type_of(posted: list[tuple[str, str]], qid: str | None, state: dict[str, Any]) -> str:
    if qid is not None:
        return str(state["question"].type)  # a saved question keeps its type
    wanted = dict(posted).get("type", "")
    return wanted if wanted in editor.TYPES else "single_choice"


def _edit(
    request: Request,
    db: Session,
    access: CourseAccess,
    qid: str | None,
    state: dict[str, Any],
    posted: list[tuple[str, str]],
) -> Response:
    """One press of a button of the editor's form: a list row added or removed, the YAML
    source taken over, or the question saved (a new question created)."""
    fields = dict(posted)
    form = editor.read_form(_type_of(posted, qid, state), posted)
    action = fields.get("action", "save")
    page: dict[str, Any] = {"qid": qid, "posted": posted}
    if action.startswith("add:"):
        editor.add_row(form, action[4:])
        return _editor_page(request, access, state, form, **page)
    if action.startswith("remove:"):
        path, _, index = action[7:].rpartition(".")
        if index.isdigit():
            editor.remove_row(form, path, int(index))
        return _editor_page(request, access, state, form, **page)
    source = fields.get("source", "")
    yaml_edited = source.strip() != fields.get("source_base", "").strip() and source.strip()
    if action == "yaml" or (action == "save" and yaml_edited):
        question, problems = editor.parse_source(source)
        if question is None or action == "yaml":
            form = editor.form_of(question) if question else form
            status = 422 if problems else 200
            return _editor_page(
                request,
                access,
                state,
                form,
                problems=problems,
                source=source if problems else None,
                status=status,
                **page,
            )
    else:
        question, problems, _ = editor.parse_form(form)
        if question is None:
            return _editor_page(request, access, state, form, problems=problems, status=422, **page)
    return _save(request, db, access, qid, state, question, fields, form, page)


def _save(
    request: Request,
    db: Session,
    access: CourseAccess,
    qid: str | None,
    state: dict[str, Any],
    question: AnyQuestion,
    fields: dict[str, str],
    form: EditorForm,
    page: dict[str, Any],
) -> Response:
    message = fields.get("message", "").strip()[:200]
    author = access.account.user_id
    try:
        if qid is None:
            bank.create_question(
                db, access.course, question, author_id=author, message=message or "created"
            )
            return _go(request, "editor_page", "created", slug=access.course.slug, qid=question.id)
        base = int(fields.get("base_version_id") or 0)
        bank.save_question(
            db,
            access.course,
            qid,
            question,
            base_version_id=base,
            author_id=author,
            message=message or "edited",
        )
    except bank.StaleEditError as error:
        db.rollback()
        stale = {
            "message": error.message,
            "rows": side_by_side(error.diff),
            "base": base,
            "current": error.current_version_id,
        }
        state = _saved_state(db, access.course, qid)
        return _editor_page(request, access, state, form, status=409, stale=stale, **page)
    except ConflictError as error:
        db.rollback()
        problem = Problem(editor.SOURCE_NAME, error.field or "", error.message)
        return _editor_page(request, access, state, form, problems=[problem], status=409, **page)
    return _go(request, "editor_page", "saved", slug=access.course.slug, qid=qid)


@router.post("/courses/{slug}/bank/{qid}/convert", dependencies=[CsrfProtected])
def convert_form(
    request: Request, db: SessionDep, access: ContentViewDep, qid: str, posted: PostedDep
) -> Response:
    """The form and the YAML source of what was posted, each from the other: `to=yaml` reads
    the form, `to=form` reads the source. Changes nothing; the page's script takes its part."""
    known = qid if qid != "new" else None
    state = _saved_state(db, access.course, known)
    fields = dict(posted)
    form = editor.read_form(_type_of(posted, known, state), posted)
    page: dict[str, Any] = {"qid": known, "posted": posted}
    if fields.get("to") == "form":
        question, problems = editor.parse_source(fields.get("source", ""))
        form = editor.form_of(question) if question else form
        return _editor_page(
            request, access, state, form, problems=problems, source=fields.get("source"), **page
        )
    return _editor_page(request, access, state, form, **page)


@router.post("/courses/{slug}/bank/{qid}/preview", dependencies=ASYNC_DEPENDENCIES)
async def preview_form(
    request: Request, database: DatabaseDep, access: ViewThenEnded, qid: str, posted: PostedDep
) -> Response:
    """The editor page with the preview of what was posted (not saved): the page's script
    swaps its preview panel in. Records nothing."""
    known = qid if qid != "new" else None
    state = await database.run(_saved_state, access.course, known)
    form = editor.read_form(_type_of(posted, known, state), posted)
    question, problems, _ = editor.parse_form(form)
    settings = PreviewSettings.read(dict(posted))
    runner_state: RunnerState = request.app.state.runner_state
    shown = (
        await preview(question, settings, request.app.state.runner, runner_state)
        if question is not None
        else None
    )
    page: dict[str, Any] = {"qid": known, "posted": posted, "preview_settings": settings}
    return _editor_page(request, access, state, form, problems=problems, shown=shown, **page)


# --- verify, publish, retire ---


@router.post("/courses/{slug}/bank/{qid}/verify", dependencies=ASYNC_DEPENDENCIES)
async def verify_form(
    request: Request, database: DatabaseDep, access: EditThenEnded, qid: str
) -> Response:
    """Verify the newest saved version against torch; the page then shows every claim."""
    try:
        recorded = await service.verify_current(
            database,
            request.app.state.runner,
            request.app.state.runner_state,
            access.course.id,
            qid,
            access.account.user_id,
            seeds=20,
        )
    except REFUSALS as exc:
        state = await database.run(_saved_state, access.course, qid)
        form = editor.form_of(state["question"])
        return _editor_page(
            request,
            access,
            state,
            form,
            qid=qid,
            verify_problem=exc.message,
            status=exc.status,
            headers=exc.headers,
        )
    done = "verified-passed" if recorded.passed else "verified-failed"
    return _go(request, "editor_page", done, slug=access.course.slug, qid=qid)


@router.post("/courses/{slug}/bank/{qid}/publish", dependencies=[CsrfProtected])
def publish_form(
    request: Request, db: SessionDep, access: ContentEditDep, catalog: CatalogDep, qid: str
) -> Response:
    try:
        service.publish(db, catalog, access.course, qid)
    except ConflictError as error:
        db.rollback()
        state = _saved_state(db, access.course, qid)
        form = editor.form_of(state["question"])
        return _editor_page(
            request, access, state, form, qid=qid, publish_problem=error.message, status=409
        )
    return _go(request, "editor_page", "published", slug=access.course.slug, qid=qid)


@router.post("/courses/{slug}/bank/{qid}/retire", dependencies=[CsrfProtected])
def retire_form(
    request: Request, db: SessionDep, access: ContentEditDep, catalog: CatalogDep, qid: str
) -> Response:
    service.retire(db, catalog, access.course, qid)
    return _go(request, "editor_page", "retired", slug=access.course.slug, qid=qid)


# --- history ---


def side_by_side(lines: list[str]) -> list[dict[str, str]]:
    """A unified diff as two columns: each row's old line and new line, and what happened to
    each ("same", "removed", "added", or "" for an empty cell)."""
    rows: list[dict[str, str]] = []
    removed: list[str] = []
    added: list[str] = []

    def flush() -> None:
        for i in range(max(len(removed), len(added))):
            old = removed[i] if i < len(removed) else None
            new = added[i] if i < len(added) else None
            rows.append(
                {
                    "old": old or "",
                    "old_kind": "removed" if old is not None else "",
                    "new": new or "",
                    "new_kind": "added" if new is not None else "",
                }
            )
        removed.clear()
        added.clear()

    for line in lines:
        if line.startswith(("---", "+++", "@@")):
            flush()
            if line.startswith("@@"):
                rows.append({"old": "…", "old_kind": "gap", "new": "…", "new_kind": "gap"})
            continue
        if line.startswith("-"):
            removed.append(line[1:])
        elif line.startswith("+"):
            added.append(line[1:])
        else:
            flush()
            rows.append({"old": line[1:], "old_kind": "same", "new": line[1:], "new_kind": "same"})
    flush()
    return rows


@router.get("/courses/{slug}/bank/{qid}/history")
def history_page(
    request: Request,
    db: SessionDep,
    access: ContentViewDep,
    qid: str,
    a: Annotated[int | None, Query(ge=1)] = None,
    b: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    row = bank.find_question(db, access.course, qid)
    versions = bank.history(db, row)
    authors = {
        u.id: u.display_name or u.email
        for u in db.query(User).filter(User.id.in_({v.author_id for v in versions if v.author_id}))
    }
    listed = [
        {
            "number": v.number,
            "author": authors.get(v.author_id or 0, "unknown"),
            "when": v.created_at,
            "message": v.message,
            "verify": _verify_word(bank.latest_verification(db, v.id)),
            "published": v.id == row.published_version_id,
            "current": v.id == row.current_version_id,
        }
        for v in versions
    ]
    diff = None
    if a is not None and b is not None:
        old = service.version_numbered(db, row, a)
        new = service.version_numbered(db, row, b)
        diff = {
            "a": a,
            "b": b,
            "rows": side_by_side(bank.diff_lines(bank.model_of(old), bank.model_of(new))),
        }
    context = {
        "course": access.course,
        "can": access.permissions,
        "qid": qid,
        "versions": listed,
        "diff": diff,
        "notice": NOTICES.get(request.query_params.get("done", "")),
    }
    return render_page(request, "authoring/history.html", context)


def _verify_word(row: Any) -> str:
    if row is None:
        return "not verified"
    return "passed" if row.passed else "claim disagrees with torch"


@router.post("/courses/{slug}/bank/{qid}/revert", dependencies=[CsrfProtected])
def revert_form(
    request: Request,
    db: SessionDep,
    access: ContentEditDep,
    qid: str,
    number: Annotated[int, Form(ge=1)],
) -> Response:
    bank.revert(db, access.course, qid, number, author_id=access.account.user_id)
    return _go(request, "editor_page", "reverted", slug=access.course.slug, qid=qid)
