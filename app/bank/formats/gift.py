"""GIFT, Moodle's plain-text question format: export, and import read as Moodle reads it
(question/format/gift/format.php).

Each question is one block (blocks are separated by blank lines): a comment line
`// [id:<id>] [tag:<tag>]...` (Moodle 3.6+ reads the id number and tags from it), then
`::<id>::[markdown]<prompt>{<answers>####<general feedback>}`. Every newline inside a text is
written `\\n` and every `~ = # { } :` and backslash is escaped with a backslash, so any text
survives the trip (carriage returns excepted: GIFT drops them).

- single_choice: `{=right#feedback ~wrong#feedback}`; multiple_select:
  `{~%50%right#... ~%-100%wrong#...}` with the fractions of app.bank.formats.moodle_xml.
- numeric: `{#value:tolerance}`; short_text: `{=form =form}`; tensor_shape: a short answer with
  every form app.bank.grading accepts (read back as a shape, as in Moodle XML).
- The general feedback carries solution, answer, quick check and common mistakes as in Moodle
  XML (app.bank.formats.mapping). Not carried by GIFT at all: hints, shuffle (Moodle's default,
  on, is read back), a numeric unit, case sensitivity (Moodle's default, off); placeholders and
  warnings mark them on import. Code questions become essays (`{}`), variants are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from app.bank.formats import Exported, Left, Parsed
from app.bank.formats.mapping import (
    Foreign,
    ForeignAnswer,
    all_tags,
    fallback_reason,
    general_feedback,
    import_foreign,
    shape_forms,
    skip_reason,
    slugify,
)
from app.bank.formats.safety import UnsafeFileError, check_size
from app.bank.loader import Problem
from app.bank.schema import (
    AnyQuestion,
    ChoiceQuestion,
    CodeQuestion,
    MultipleSelect,
    Numeric,
    ShortText,
    TensorShape,
)

SOURCE = "GIFT"
ESCAPED = "\\~=#{}:"
FORMATS = ("moodle", "html", "plain", "markdown")
CATEGORY = "$CATEGORY:"
TRIMMED = " \t\n\r\0\x0b"  # what PHP's trim() removes, as Moodle trims every GIFT text
_WEIGHT = re.compile(r"^%-*[0-9]{1,2}\.?[0-9]*%")
_COMMENT_ID = re.compile(r"\[id:((?:\\\]|[^\]\x00-\x1f])+)\]")
_COMMENT_TAG = re.compile(r"\[tag:((?:\\\]|[^\]\x00-\x1f])+)\]")


# --- export ---


def escape(text: str) -> str:
    """Text as GIFT writes it: the special characters escaped, newlines as \\n, no CR."""
    out = "".join("\\" + ch if ch in ESCAPED else ch for ch in text)
    return out.replace("\r", "").replace("\n", "\\n")


def _text(text: str, *, marker: bool = False) -> str:
    """A text; `[markdown]` before it when asked, or when the text itself starts with `[` or
    `%50%` (which Moodle would otherwise take for a format marker or a weight)."""
    weighted = _WEIGHT.match(text) is not None  # "%50%..." would read as a weight
    return ("[markdown]" if marker or weighted or text.startswith("[") else "") + escape(text)


def export(
    questions: Sequence[AnyQuestion],
    *,
    bank_name: str,
    topic_of: Mapping[str, str] | None = None,
) -> Exported:
    blocks: list[str] = []
    exported = Exported(b"", f"{bank_name}.gift.txt", "text/plain; charset=utf-8")
    category = None
    for question in questions:
        skipped = skip_reason(question)
        if skipped:
            exported.skipped.append(Left(question.id, skipped))
            continue
        topic = (topic_of or {}).get(question.id)
        if topic and topic != category:
            blocks.append(f"{CATEGORY} $course$/top/{topic}")
            category = topic
        fallback = _fallback(question)
        if fallback:
            exported.fallbacks.append(Left(question.id, fallback))
        blocks.append(question_block(question))
    exported.data = ("\n\n".join(blocks) + "\n").encode()
    return exported


def _fallback(question: AnyQuestion) -> str | None:
    reasons = [fallback_reason(question)]
    if isinstance(question, ShortText) and question.answer.case_sensitive:
        reasons.append("GIFT has no case sensitivity: Moodle will accept any case")
    if isinstance(question, Numeric) and question.unit:
        reasons.append(f"GIFT has no units: the unit '{question.unit}' is left out")
    if isinstance(question, ChoiceQuestion) and not question.shuffle:
        reasons.append("GIFT cannot pin the options' order: Moodle may shuffle them")
    return "; ".join(r for r in reasons if r) or None


def question_block(question: AnyQuestion) -> str:
    comment = f"// [id:{question.id}] " + " ".join(f"[tag:{t}]" for t in all_tags(question))
    head = f"::{escape(question.id)}::{_text(question.prompt, marker=True)}"
    general = "\t####" + _text(general_feedback(question))
    if isinstance(question, CodeQuestion):
        return f"{comment}\n{head}{{\n{general}\n}}"
    lines = list(_answer_lines(question))
    return "\n".join([comment, head + "{", *lines, general, "}"])


def _answer_lines(question: AnyQuestion) -> Iterator[str]:
    if isinstance(question, ChoiceQuestion):
        multiple = isinstance(question, MultipleSelect)
        right = len(question.correct_indexes())
        wrong = len(question.options) - right
        for option in question.options:
            if multiple:
                share = 1 / right if option.correct else -1 / wrong
                mark = f"~%{100 * share:.7g}%"
            else:
                mark = "=" if option.correct else "~"
            yield f"\t{mark}{_text(option.text)}#{_text(option.feedback)}"
    elif isinstance(question, Numeric):
        expected = question.expected()
        yield f"\t#{_number(expected.value)}:{_number(expected.tolerance)}"
    else:
        forms = (
            shape_forms(question.expected())
            if isinstance(question, TensorShape)
            else question.answer.accepted  # type: ignore[union-attr]
        )
        for form in forms:
            yield "\t=" + _text(form.replace("*", "\\*"))


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


# --- import ---


@dataclass(frozen=True)
class Marked:
    """Text read from GIFT: each character, and whether it was escaped (so it is text, never
    syntax). Only unescaped characters count when looking for syntax."""

    chars: str
    escaped: tuple[bool, ...]

    @classmethod
    def read(cls, raw: str) -> Marked:
        chars: list[str] = []
        escaped: list[bool] = []
        i = 0
        while i < len(raw):
            ch, nxt = raw[i], raw[i + 1 : i + 2]
            if ch == "\\" and nxt and (nxt in ESCAPED or nxt == "n"):
                chars.append("\n" if nxt == "n" else nxt)
                escaped.append(True)
                i += 2
            else:
                chars.append(ch)
                escaped.append(False)
                i += 1
        return cls("".join(chars), tuple(escaped))

    def find(self, sub: str, start: int = 0) -> int:
        index = self.chars.find(sub, start)
        while index >= 0 and any(self.escaped[index : index + len(sub)]):
            index = self.chars.find(sub, index + 1)
        return index

    def rfind(self, sub: str) -> int:
        index = self.chars.rfind(sub)
        while index >= 0 and any(self.escaped[index : index + len(sub)]):
            index = self.chars.rfind(sub, 0, index + len(sub) - 1)
        return index

    def __getitem__(self, part: slice) -> Marked:
        return Marked(self.chars[part], self.escaped[part])

    def __add__(self, other: Marked) -> Marked:
        return Marked(self.chars + other.chars, self.escaped + other.escaped)

    def strip(self) -> Marked:
        start, end = 0, len(self.chars)
        while start < end and self.chars[start] in TRIMMED and not self.escaped[start]:
            start += 1
        while end > start and self.chars[end - 1] in TRIMMED and not self.escaped[end - 1]:
            end -= 1
        return self[start:end]

    def split(self, separators: str) -> list[tuple[str, Marked]]:
        """Pieces between unescaped separators, each with the separator before it ('' first)."""
        pieces, mark, start = [], "", 0
        for index, ch in enumerate(self.chars):
            if ch in separators and not self.escaped[index]:
                pieces.append((mark, self[start:index]))
                mark, start = ch, index + 1
        pieces.append((mark, self[start:]))
        return pieces

    def text(self) -> str:
        """As Moodle keeps it: a known `[format]` marker dropped, spaces trimmed."""
        plain = self.strip()
        if plain.chars.startswith("[") and not plain.escaped[0]:
            end = plain.find("]")
            if end > 0 and plain.chars[1:end] in FORMATS:
                plain = plain[end + 1 :]
        return plain.chars.strip(TRIMMED)


def parse(data: bytes) -> Parsed:
    """The questions of a GIFT file (UTF-8). A question that cannot be imported is a problem
    naming it; the others are still read."""
    check_size(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnsafeFileError(f"the GIFT file is not UTF-8 text: {exc}") from None
    parsed, taken, topic, number = Parsed(), set[str](), None, 0
    for comments, block in _blocks(text):
        if block.startswith(CATEGORY):
            topic = slugify(block[len(CATEGORY) :].strip().rstrip("/").rsplit("/", 1)[-1])
            continue
        number += 1
        foreign = _foreign(Marked.read(block), comments, number, parsed)
        if foreign is not None:
            foreign.topic = topic or None
            import_foreign(foreign, number, taken, SOURCE, parsed)
    return parsed


def _blocks(text: str) -> Iterator[tuple[str, str]]:
    """(comment lines, question text) of each blank-line-separated block, as Moodle splits."""
    comments: list[str] = []
    lines: list[str] = []
    for line in [*text.replace("\r\n", "\n").split("\n"), ""]:
        stripped = line.strip()
        if stripped.startswith("//"):
            comments.append(stripped)
        elif stripped:
            lines.append(line)
        elif lines:
            yield "\n".join(comments), "\n".join(lines).strip()
            comments, lines = [], []
        else:
            comments = []


def _foreign(text: Marked, comments: str, number: int, parsed: Parsed) -> Foreign | None:
    name = ""
    if text.chars.startswith("::") and not any(text.escaped[:2]):
        end = text.find("::", 2)
        if end > 0:
            name, text = text[2:end].text(), text[end + 2 :].strip()
    item = f"question {number} '{name[:60]}'" if name else f"question {number}"
    start, end = text.find("{"), text.find("}")
    if start < 0 and end < 0:
        return Foreign(kind="description", item=item, ids=[], text=text.text())
    if start < 0 or end < start:
        parsed.problems.append(Problem(item, "", "the answer braces { } do not match"))
        return None
    answers = text[start + 1 : end].strip()
    prompt = text[:start]
    if end != len(text.chars) - 1:  # Moodle's missing-word format: a blank where the answers are
        prompt = prompt + Marked.read("_____") + text[end + 1 :]
    general = ""
    separator = answers.rfind("####")
    if separator >= 0:
        general, answers = answers[separator + 4 :].text(), answers[:separator].strip()
    idnumber = _COMMENT_ID.search(comments)
    foreign = Foreign(
        kind=_kind(answers),
        item=item,
        ids=[idnumber[1].replace("\\]", "]") if idnumber else "", name],
        text=prompt.text(),
        general=general,
        tags=[tag.replace("\\]", "]") for tag in _COMMENT_TAG.findall(comments)],
    )
    _read_answers(foreign, answers)
    return foreign


def _kind(answers: Marked) -> str:
    if not answers.chars:
        return "essay"
    if answers.chars.startswith("#") and not answers.escaped[0]:
        return "numerical"
    if answers.find("~") >= 0:
        return "multichoice"
    if answers.find("=") >= 0 and answers.find("->") >= 0:
        return "match"
    hash_at = answers.find("#")
    head = (answers[:hash_at] if hash_at > 0 else answers).strip().chars
    return "truefalse" if head in ("T", "TRUE", "F", "FALSE") else "shortanswer"


def _weighted(piece: Marked, default: float) -> tuple[float, Marked]:
    match = _WEIGHT.match(piece.chars)
    if match is None or any(piece.escaped[: match.end()]):
        return default, piece
    return float(match[0].strip("%").replace("--", "-")) / 100, piece[match.end() :]


def _comment(piece: Marked) -> tuple[str, str]:
    at = piece.find("#")
    return (piece.text(), "") if at < 0 else (piece[:at].text(), piece[at + 1 :].text())


def _read_answers(foreign: Foreign, answers: Marked) -> None:
    if foreign.kind == "multichoice":
        foreign.single = answers.find("=") >= 0
        for mark, piece in answers.split("~="):
            if not piece.strip().chars and mark == "":
                continue
            weight, rest = (1.0, piece) if mark == "=" else _weighted(piece.strip(), 0.0)
            text, feedback = _comment(rest)
            foreign.answers.append(ForeignAnswer(text, weight, feedback))
    elif foreign.kind == "shortanswer":
        for _mark, piece in answers.split("="):
            if piece.strip().chars:
                weight, rest = _weighted(piece.strip(), 1.0)
                text, feedback = _comment(rest)
                foreign.answers.append(ForeignAnswer(text, weight, feedback))
    elif foreign.kind == "numerical":
        _read_numbers(foreign, answers[1:])
    elif foreign.kind == "truefalse":
        _read_truefalse(foreign, answers)


def _read_numbers(foreign: Foreign, answers: Marked) -> None:
    wrong = answers.find("~")
    body = answers[:wrong] if wrong >= 0 else answers
    for _mark, piece in body.split("="):
        if not piece.strip().chars:
            continue
        weight, rest = _weighted(piece.strip(), 1.0)
        text, feedback = _comment(rest)
        value, tolerance = _range(text)
        foreign.answers.append(ForeignAnswer(value, weight, feedback, tolerance))


def _range(text: str) -> tuple[str, float]:
    """`min..max`, `value:tolerance` or `value` as (value text, tolerance)."""
    try:
        if ".." in text[1:]:
            low, high = (float(part) for part in text.split("..", 1))
            return repr((low + high) / 2), abs(high - low) / 2
        if ":" in text[1:]:
            value, tolerance = text.split(":", 1)
            return value.strip(), float(tolerance)
    except ValueError:
        return text, 0.0
    return text, 0.0


def _read_truefalse(foreign: Foreign, answers: Marked) -> None:
    pieces = [piece.text() for _mark, piece in answers.split("#")] + ["", ""]
    true = pieces[0] in ("T", "TRUE")
    wrong, right = pieces[1], "#".join(pieces[2:]).rstrip("#")
    foreign.answers = [
        ForeignAnswer("True", 1.0 if true else 0.0, right if true else wrong),
        ForeignAnswer("False", 0.0 if true else 1.0, wrong if true else right),
    ]
