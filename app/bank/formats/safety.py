"""Reading what users upload: XML without entities or DTDs, zips without bombs or escapes.

Every import format parses its input through these two functions, so an uploaded file can
never make the server fetch a URL, read a local file (XXE), expand entities without bound
(billion laughs), write outside a folder (path traversal) or unpack without bound (zip bomb).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # one upload, zipped or not
MAX_UNPACKED_BYTES = 50 * 1024 * 1024  # a zip's entries together, once unpacked
MAX_ZIP_ENTRIES = 5000
MAX_RATIO = 200  # an entry's unpacked size over its packed size; beyond it, a bomb


class UnsafeFileError(ValueError):
    """The upload is malformed or hostile; the message says what, for the person uploading."""


def check_size(data: bytes) -> None:
    if len(data) > MAX_UPLOAD_BYTES:
        raise UnsafeFileError(
            f"the file is {len(data):,} bytes; the limit is {MAX_UPLOAD_BYTES:,} bytes"
        )


def parse_xml(data: bytes) -> Element:
    """Parse an uploaded XML document with DTDs, entities and external references refused."""
    check_size(data)
    try:
        root: Element = fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
        return root
    except DefusedXmlException as exc:
        # DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden: all name the construct.
        raise UnsafeFileError(
            f"the XML declares {type(exc).__name__.removesuffix('Forbidden')}"
            " content, which is not accepted (no DTDs or entities)"
        ) from None
    except ParseError as exc:
        line, column = exc.position
        raise UnsafeFileError(
            f"the XML is malformed at line {line}, column {column}: {exc}"
        ) from None


def read_zip(data: bytes) -> dict[str, bytes]:
    """The entries of an uploaded zip, by their (checked) relative POSIX path; folders left out.

    Sizes are judged from the zip's directory before anything is unpacked, and again while
    reading (a directory can lie about sizes): an oversized or over-compressed entry stops it.
    """
    check_size(data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise UnsafeFileError(f"the file is not a readable zip: {exc}") from None
    infos = [info for info in archive.infolist() if not info.is_dir()]
    if len(infos) > MAX_ZIP_ENTRIES:
        raise UnsafeFileError(f"the zip holds {len(infos)} files; the limit is {MAX_ZIP_ENTRIES}")
    declared = sum(info.file_size for info in infos)
    if declared > MAX_UNPACKED_BYTES:
        raise UnsafeFileError(
            f"the zip unpacks to {declared:,} bytes; the limit is {MAX_UNPACKED_BYTES:,}"
        )
    entries: dict[str, bytes] = {}
    budget = MAX_UNPACKED_BYTES
    for info in infos:
        name = safe_entry_name(info.filename)
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise UnsafeFileError(f"the zip entry {name!r} is compressed suspiciously far")
        try:
            with archive.open(info) as member:
                content = member.read(min(budget, info.file_size) + 1)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, RuntimeError) as exc:
            raise UnsafeFileError(f"the zip entry {name!r} cannot be read: {exc}") from None
        if len(content) > info.file_size or len(content) > budget:
            raise UnsafeFileError(f"the zip entry {name!r} is larger than the zip declares")
        budget -= len(content)
        entries[name] = content
    return entries


def safe_entry_name(name: str) -> str:
    """A zip entry's path, refused when absolute, with `..`, a drive or a backslash."""
    path = PurePosixPath(name)
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or path.is_absolute()
        or ".." in path.parts
        or ":" in path.parts[0]
    ):
        raise UnsafeFileError(f"the zip entry {name!r} points outside the bank; refused")
    return str(path)
