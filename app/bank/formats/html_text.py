"""HTML from another system's question (Moodle's default text format) as Markdown, so an
imported question is Markdown like every other. A plain reading: paragraphs, line breaks,
lists, code, emphasis; every other tag is dropped and its text kept. The standard library's
parser reads it: no network, no entities beyond HTML's own."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "tr", "blockquote"}
_MARKS = {"strong": "**", "b": "**", "em": "*", "i": "*"}


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "pre":
            self.pre += 1
            self.parts.append("\n\n```\n")
        elif tag == "code" and not self.pre:
            self.parts.append("`")
        elif tag in _MARKS and not self.pre:
            self.parts.append(_MARKS[tag])
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
            self.parts.append("\n```\n\n")
        elif tag == "code" and not self.pre:
            self.parts.append("`")
        elif tag in _MARKS and not self.pre:
            self.parts.append(_MARKS[tag])
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


def html_to_markdown(html: str) -> str:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    text = "".join(reader.parts)
    lines, fenced = [], False
    for line in text.split("\n"):
        if line.strip() == "```":
            fenced = not fenced
        lines.append(line.rstrip() if fenced else line.strip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
