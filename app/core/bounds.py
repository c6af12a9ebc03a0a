"""What a request may carry, declared once: the API's schemas, the path and query parameters and
the HTML forms' parsers all use these types. A value the database cannot hold (an integer past
its column, a string past its column's length, text it cannot store or a response cannot
encode) is refused at the edge as a 422 naming the field, before anything is written.

The models size their columns from the lengths below, so the two cannot drift.
"""

from __future__ import annotations

import re
from typing import Annotated, TypeVar

from annotated_types import Ge, Le
from pydantic import AfterValidator, StringConstraints

# PostgreSQL's `integer`, the type of every Integer column (row ids, positions, seeds). SQLite
# would hold 64 bits, but the schema promises no more than this on either database.
INT32_MAX = 2**31 - 1
PUBLIC_ID_LENGTH = 36  # a uuid4 as text: the public ids of learners, sessions and lab runs
SLUG_LENGTH = 80  # topics' and questions' slugs, and tags (app.bank.schema.Slug)
EMAIL_LENGTH = 254  # the longest address SMTP carries (RFC 5321's path limit, less <>)
NAME_LENGTH = 120  # a person's display name, a course's title
PASSWORD_MIN, PASSWORD_MAX = 10, 256  # Argon2 hashes any length; past this, a pasted file

# No control characters: NUL is the one PostgreSQL cannot store in text, and none belongs in
# a name. A pattern refuses a lone surrogate too: pydantic matches no such string.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
V = TypeVar("V")


def storable_text(value: str) -> str:
    """Text a database stores and a response encodes: no NUL (PostgreSQL refuses it in text)
    and no lone surrogate (JSON's "\\ud800" is no character at all: UTF-8 cannot write it)."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    if found := _LONE_SURROGATE.search(value):
        raise ValueError(f"must be valid Unicode: a lone surrogate at character {found.start()}")
    return value


def storable(value: V) -> V:
    """storable_text over every string a value holds (an answer: text, or a list of texts)."""
    if isinstance(value, str):
        storable_text(value)
    elif isinstance(value, list | tuple):
        for item in value:
            storable(item)
    return value


def shown(value: str) -> str:
    """A value as a page can show it back: each lone surrogate as U+FFFD, as a browser would."""
    return _LONE_SURROGATE.sub("\ufffd", value)


Text = Annotated[str, AfterValidator(storable_text)]
PublicId = Annotated[
    str, StringConstraints(min_length=1, max_length=PUBLIC_ID_LENGTH, pattern=_PRINTABLE)
]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=SLUG_LENGTH, pattern=_PRINTABLE)]
Tag = Slug
RowId = Annotated[int, Ge(1), Le(INT32_MAX)]
Position = Annotated[int, Ge(1), Le(INT32_MAX)]  # 1-based, in a session
Seed = Annotated[int, Ge(0), Le(INT32_MAX)]
Count = Annotated[int, Ge(0), Le(INT32_MAX)]  # an offset, a number of items


# An address as people type it: one @, a dot in the domain, no spaces or control characters.
# Whether it receives mail is for the password reset to find out, not for a pattern.
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=EMAIL_LENGTH,
        pattern=r"^[^@\s\x00-\x1f]+@[^@\s\x00-\x1f]+\.[^@\s\x00-\x1f]+$",
    ),
    AfterValidator(storable_text),
]
Password = Annotated[
    str,
    StringConstraints(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX),
    AfterValidator(storable_text),
]
Name = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=NAME_LENGTH, pattern=_PRINTABLE
    ),
]
