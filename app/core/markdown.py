"""Markdown to safe HTML: markdown-it (CommonMark), Pygments for code, nh3 to sanitise."""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

_FORMATTER = HtmlFormatter(nowrap=True)
# Content is trusted to be Markdown, not HTML: anything outside this list is stripped.
_TAGS = {
    "p",
    "br",
    "hr",
    "em",
    "strong",
    "code",
    "pre",
    "span",
    "a",
    "ul",
    "ol",
    "li",
    "blockquote",
    "h2",
    "h3",
    "h4",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "del",
}
_ATTRIBUTES = {
    "span": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "a": {"href", "title"},
}
# Table cells may carry only these classes (see _alignment_classes).
_ALIGNMENTS = {"align-left", "align-center", "align-right"}


def _highlight(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang or "text")
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    return (
        f'<pre class="highlight"><code class="language-{lang or "text"}">'
        + str(highlight(code, lexer, _FORMATTER))
        + "</code></pre>"
    )


def code_block(code: str, lang: str = "python") -> Markup:
    """One highlighted block; Pygments escapes the code."""
    return Markup(_highlight(code, lang, ""))  # noqa: S704 - escaped by Pygments


def _alignment_classes(state: StateCore) -> None:
    """A table column's alignment as a class (static/css/site.css), not a style attribute:
    the Content-Security-Policy lets no inline style apply."""
    for token in state.tokens:
        if token.type in ("th_open", "td_open") and (style := token.attrs.pop("style", None)):
            token.attrSet("class", "align-" + str(style).removeprefix("text-align:"))


_MD = MarkdownIt("commonmark", {"highlight": _highlight, "html": False}).enable("table")
_MD.core.ruler.push("alignment_classes", _alignment_classes)


@lru_cache(maxsize=4096)
def render(text: str) -> Markup:
    html = _MD.render(text)
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        allowed_classes={"th": _ALIGNMENTS, "td": _ALIGNMENTS},
    )
    return Markup(clean)  # noqa: S704 - sanitised by nh3 above


@lru_cache(maxsize=1024)
def python_blocks(text: str) -> tuple[str, ...]:
    """The ```python code blocks of a Markdown text, in order."""
    return tuple(
        token.content
        for token in _MD.parse(text)
        if token.type == "fence" and token.info.strip().lower() in ("python", "py")
    )


@lru_cache(maxsize=4096)
def render_inline(text: str) -> Markup:
    """For short texts such as option labels: no surrounding paragraph."""
    html = str(render(text)).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return Markup(html)  # noqa: S704 - output of render(), already sanitised


def pygments_css() -> str:
    """Light and dark code styles (both pass WCAG AA contrast); dark follows the system."""
    light = HtmlFormatter(style="xcode").get_style_defs(".highlight")
    dark = HtmlFormatter(style="lightbulb").get_style_defs(".highlight")
    return f"{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"
