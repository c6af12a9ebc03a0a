"""Guides kept as Markdown in docs/ (read on GitHub as well), served as pages of the site.
A guide missing from an installation (a wheel without docs/) is a 404, not a 500."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from app.core import markdown
from app.core.config import PROJECT_DIR
from app.core.errors import NotFoundError
from app.core.templating import render_page

DOCS = PROJECT_DIR / "docs"


def guide_page(request: Request, file: str) -> Response:
    """docs/`file` rendered as a page; its first line's "# Title" is the page's heading (the
    Markdown renderer keeps h1 for the page's own)."""
    path = DOCS / file
    if not path.is_file():
        raise NotFoundError(f"the guide {file!r} is not part of this installation", field="page")
    heading, _, rest = path.read_text(encoding="utf-8").partition("\n")
    title = heading.removeprefix("# ").strip()
    return render_page(request, "guide.html", {"body": markdown.render(rest), "title": title})
