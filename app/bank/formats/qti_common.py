"""What QTI 2.1 and 3.0 share: Markdown as QTI's XHTML subset and back, and the answer forms.

QTI item bodies hold a strict subset of XHTML (no `del`, no `rel` or `title` on links, no
`data-*` attributes anywhere), so a question's Markdown is rendered as learners see it
(app.core.markdown) and then copied element by element through an allowlist into the QTI
namespace. Importing walks the other way, from the XHTML of any QTI tool back to Markdown that
renders to the same HTML (the round trip tests compare rendered HTML, not source text).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from xml.etree.ElementTree import Element

import lxml.html
from lxml import etree

from app.core.markdown import render, render_inline

TOOL_NAME = "torchquiz"
# Class names on QTI elements that carry our fields through a package and back; a class is the
# one attribute every QTI body element has, and importers that do not know them ignore them.
UNIT_CLASS = "unit"
SHAPE_CLASS = "tensor-shape"
HINT_CLASS, STEP_CLASS, LABEL_CLASS = "hint", "solution-step", "label"
FINAL_CLASS, QUICK_CHECK_CLASS = "final-answer", "quick-check"
MISTAKES_CLASS, MISTAKE_CLASS = "common-mistakes", "mistake"
HINTS_FEEDBACK, SOLUTION_FEEDBACK = "HINTS", "SOLUTION"

# QTI's XHTML subset, restricted to what our Markdown renderer produces, with the attributes
# QTI allows on each. Other elements are unwrapped: their text stays, their tag goes.
_ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "code", "pre", "span", "a", "ul", "ol", "li",
    "blockquote", "h2", "h3", "h4", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"class", "href"}

BLOCK_TAGS = {
    "p", "pre", "ul", "ol", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table",
    "div", "dl", "address",
}  # fmt: skip


# --- Markdown to QTI XHTML (export) ---


def append_markdown(parent: etree._Element, text: str, *, inline: bool = False) -> None:
    """Render `text` and append it into `parent` as QTI XHTML, in parent's namespace."""
    html = str(render_inline(text) if inline else render(text))
    container = lxml.html.fragment_fromstring(html, create_parent="div")
    if not inline:
        container = _paragraphs(container)
    _copy_into(container, parent, etree.QName(parent).namespace or "")


def _paragraphs(container: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """Text the renderer left outside any block (a `#` heading, whose tag it drops) in a
    paragraph: QTI's block containers hold no loose text."""
    blocks = lxml.html.fragment_fromstring("<div></div>")
    loose = lxml.html.fragment_fromstring("<p></p>")

    def flush() -> None:
        nonlocal loose
        if (loose.text or "").strip() or len(loose):
            blocks.append(loose)
        loose = lxml.html.fragment_fromstring("<p></p>")

    _append_text(loose, container.text)
    for child in list(container):
        tail, child.tail = child.tail, None
        if isinstance(child.tag, str) and child.tag in BLOCK_TAGS:
            flush()
            blocks.append(child)
        else:
            loose.append(child)
        _append_text(loose, tail)
    flush()
    return blocks


def _copy_into(source: etree._Element, target: etree._Element, namespace: str) -> None:
    _append_text(target, source.text)
    for child in source:
        if isinstance(child.tag, str):
            # QTI requires a link's href; a link the sanitiser left without one is its text.
            if child.tag in _ALLOWED_TAGS and (child.tag != "a" or child.get("href")):
                copy = etree.SubElement(target, f"{{{namespace}}}{child.tag}")
                for name, value in child.attrib.items():
                    if name in _ALLOWED_ATTRIBUTES:
                        copy.set(name, value)
                _copy_into(child, copy, namespace)
            else:
                _copy_into(child, target, namespace)
        _append_text(target, child.tail)


def _append_text(target: etree._Element, text: str | None) -> None:
    if not text:
        return
    if len(target):
        last = target[-1]
        last.tail = (last.tail or "") + text
    else:
        target.text = (target.text or "") + text


def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    """A child in the parent's namespace."""
    element = etree.SubElement(parent, f"{{{etree.QName(parent).namespace}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def shape_forms(shape: list[int]) -> list[str]:
    """The ways our grader accepts a shape, as exact strings a QTI mapping can list."""
    tight, spaced = ",".join(map(str, shape)), ", ".join(map(str, shape))
    trail = "," if len(shape) == 1 else ""
    forms = [f"({spaced}{trail})", f"({tight}{trail})", spaced, tight]
    forms += [f"[{spaced}]", f"[{tight}]", f"torch.Size([{spaced}])", f"torch.Size([{tight}])"]
    return [form for index, form in enumerate(forms) if form and form not in forms[:index]]


def text_forms(accepted: list[str]) -> list[str]:
    """Accepted answers, each followed by its plain form (backticks and runs of spaces dropped,
    as our grader drops them) where that differs, since a QTI mapping matches exactly."""
    forms: list[str] = []
    for answer in accepted:
        for form in (answer, plain_form(answer)):
            if form and form not in forms:
                forms.append(form)
    return forms


def plain_form(answer: str) -> str:
    return " ".join(answer.strip().strip("`").split())


def authored_forms(forms: list[str]) -> list[str]:
    """The inverse of text_forms: the forms without the plain forms it added."""
    kept: list[str] = []
    for form in forms:
        derived = any(plain_form(earlier) == form != earlier for earlier in kept)
        if not derived and form not in kept:
            kept.append(form)
    return kept


def number_text(value: float) -> str:
    """A float as QTI writes it: integers without a fraction, others exactly."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


# --- QTI XHTML to Markdown (import) ---

Skip = Callable[[Element], bool]


def local(tag: object) -> str:
    """An element's name without its namespace."""
    return str(tag).rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def classes(element: Element) -> set[str]:
    return set(element.get("class", "").split())


def to_markdown(element: Element, skip: Skip = lambda _: False) -> str:
    """The content of an XHTML element as Markdown; `skip` leaves elements out (interactions)."""
    return "\n\n".join(_blocks(element, skip)).strip()


def _blocks(element: Element, skip: Skip) -> list[str]:
    blocks: list[str] = []
    run: list[str] = []  # inline content waiting for a block to end its paragraph

    def flush() -> None:
        paragraph = _paragraph("".join(run))
        if paragraph:
            blocks.append(paragraph)
        run.clear()

    run.append(_escape(element.text or ""))
    for child in element:
        if not skip(child):
            if local(child.tag) in BLOCK_TAGS:
                flush()
                block = _block(child, skip)
                if block:
                    blocks.append(block)
            else:
                run.append(_inline_element(child, skip))
        run.append(_escape(child.tail or ""))
    flush()
    return blocks


def _block(element: Element, skip: Skip) -> str:
    tag = local(element.tag)
    if tag == "p":
        return _paragraph(_inline(element, skip))
    if tag == "pre":
        return _fence(element)
    if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
        return "#" * int(tag[1]) + " " + _paragraph(_inline(element, skip))
    if tag in ("ul", "ol"):
        return _list(element, skip)
    if tag == "blockquote":
        inner = to_markdown(element, skip)
        return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
    if tag == "hr":
        return "---"
    if tag == "table":
        return _table(element, skip)
    return to_markdown(element, skip)  # div and other containers: their blocks


def _inline(element: Element, skip: Skip) -> str:
    parts = [_escape(element.text or "")]
    for child in element:
        if not skip(child):
            parts.append(_inline_element(child, skip))
        parts.append(_escape(child.tail or ""))
    return "".join(parts)


def _inline_element(element: Element, skip: Skip) -> str:
    tag = local(element.tag)
    if tag == "br":
        return "\\\n"
    if tag == "code":
        return _code_span("".join(element.itertext()))
    inner = _inline(element, skip)
    if not inner.strip():
        return inner
    if tag in ("em", "i"):
        return f"*{inner}*"
    if tag in ("strong", "b"):
        return f"**{inner}**"
    if tag == "a" and element.get("href"):
        return f"[{inner}]({_destination(element.get('href', ''))})"
    return inner


def _destination(href: str) -> str:
    return re.sub(r"([()<>\\])", r"\\\1", href).replace(" ", "%20")


_ESCAPED = re.compile(r"([\\`*_\[\]<>&|])")
_LINE_START = re.compile(r"^([ \t]*)([#>+=~-]|\d{1,9}(?=[.)]))", re.MULTILINE)


def _escape(text: str) -> str:
    return _ESCAPED.sub(r"\\\1", text)


def _paragraph(text: str) -> str:
    """Inline Markdown as a paragraph: whitespace around line breaks dropped (XHTML does not
    show it), and a line start that Markdown would read as a block (a heading, list, quote
    or rule) escaped."""
    text = re.sub(r"[ \t]*\n[ \t\n]*", "\n", text).strip()
    return _LINE_START.sub(_escape_line_start, text)


def _escape_line_start(match: re.Match[str]) -> str:
    indent, mark = match[1], match[2]
    if mark.isdigit():
        return f"{indent}{mark}\\"  # "1." -> "1\.": the dot, not the number, is escaped
    return f"{indent}\\{mark}"


def _code_span(code: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * (longest + 1)
    pad = (
        code.startswith("`")
        or code.endswith("`")
        or (code.startswith(" ") and code.endswith(" ") and code.strip() != "")
    )
    return f"{fence} {code} {fence}" if pad else f"{fence}{code}{fence}"


def _fence(pre: Element) -> str:
    code = "".join(pre.itertext())
    language = ""
    for child in pre:
        for name in classes(child):
            if local(child.tag) == "code" and name.startswith("language-"):
                language = name.removeprefix("language-")
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{code.rstrip(chr(10))}\n{fence}"


def _list(element: Element, skip: Skip) -> str:
    ordered = local(element.tag) == "ol"
    number = int(element.get("start", "1") or 1) if ordered else 0
    items = [child for child in element if local(child.tag) == "li" and not skip(child)]
    loose = any(local(grand.tag) == "p" for item in items for grand in item)
    lines: list[str] = []
    for offset, item in enumerate(items):
        marker = f"{number + offset}. " if ordered else "- "
        body = ("\n\n" if loose else "\n").join(_blocks(item, skip)) or ""
        indent = " " * len(marker)
        body_lines = body.split("\n")
        rest = [f"{indent}{line}" if line else "" for line in body_lines[1:]]
        lines.append("\n".join([marker + body_lines[0], *rest]))
    return ("\n\n" if loose else "\n").join(lines)


_ALIGN = {"align-left": ":---", "align-center": ":---:", "align-right": "---:"}


def _table(table: Element, skip: Skip) -> str:
    rows = [row for row in table.iter() if local(row.tag) == "tr"]
    if not rows:
        return ""

    def cells(row: Element) -> list[Element]:
        return [cell for cell in row if local(cell.tag) in ("th", "td")]

    def line(row: Element) -> str:
        texts = [_paragraph(_inline(cell, skip)).replace("\n", " ") for cell in cells(row)]
        return "| " + " | ".join(texts) + " |"

    header = cells(rows[0])
    rule = [next((_ALIGN[c] for c in classes(cell) if c in _ALIGN), "---") for cell in header]
    return "\n".join([line(rows[0]), "| " + " | ".join(rule) + " |", *map(line, rows[1:])])
