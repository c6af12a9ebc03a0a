"""Indexing expressions such as `h_n[-2, :]`, read without running them and compared by what
they select. Pure: no torch, no numpy, no eval.

An expression is a tensor's name followed by zero or more pairs of brackets, each holding
integers (with an optional minus sign), slices (`1:3`, `::2`) and at most one `...`, separated
by commas. `parse_index` reads one with `ast` and refuses anything else; `select` applies it to a
tensor of a given shape as torch's basic indexing does, and gives the result's shape and which
of the tensor's elements it holds, in order. Two expressions are equivalent on that shape when
their selections are equal.
"""

from __future__ import annotations

import ast
import itertools
import math
from dataclasses import dataclass
from types import EllipsisType

# The largest tensor (in elements) an index answer may be about: selections are computed
# element by element, so the work per answer stays small.
MAX_INDEXED_ELEMENTS = 4096

IndexItem = int | slice | EllipsisType


class IndexSyntaxError(ValueError):
    """The text is not an indexing expression this module reads (its message says why)."""


@dataclass(frozen=True)
class IndexExpression:
    name: str
    subscripts: tuple[tuple[IndexItem, ...], ...]  # one tuple per pair of brackets


@dataclass(frozen=True)
class Selection:
    shape: tuple[int, ...]
    elements: tuple[int, ...]  # flat (row-major) positions in the indexed tensor, in order


ITEMS_ALLOWED = (
    "inside the brackets use only whole numbers, slices such as `1:3` or `::2`, and `...`"
)


def parse_index(text: str) -> IndexExpression:
    """Read `name[...][...]`; raise IndexSyntaxError for anything else."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise IndexSyntaxError("this is not a Python expression") from None
    node = tree.body
    subscripts: list[tuple[IndexItem, ...]] = []
    while isinstance(node, ast.Subscript):
        subscripts.append(_items(node.slice))
        node = node.value
    if not isinstance(node, ast.Name):
        raise IndexSyntaxError("write the tensor's name followed by brackets, such as `x[0, 1:3]`")
    return IndexExpression(node.id, tuple(reversed(subscripts)))


def select(expression: IndexExpression, shape: tuple[int, ...]) -> Selection | None:
    """What the expression selects from a tensor of `shape`, or None where torch would raise
    an IndexError (an index out of range, or more indices than dimensions)."""
    if math.prod(shape) > MAX_INDEXED_ELEMENTS:
        raise ValueError(
            f"index answers are for tensors of at most {MAX_INDEXED_ELEMENTS} elements"
        )
    current = Selection(tuple(shape), tuple(range(math.prod(shape))))
    for items in expression.subscripts:
        selected = _apply(current, items)
        if selected is None:
            return None
        current = selected
    return current


def _apply(view: Selection, items: tuple[IndexItem, ...]) -> Selection | None:
    explicit = [item for item in items if item is not Ellipsis]
    if len(explicit) > len(view.shape):
        return None
    # `...` stands for as many whole dimensions as needed; missing trailing indices are `:`.
    fill = (slice(None),) * (len(view.shape) - len(explicit))
    at = items.index(Ellipsis) if Ellipsis in items else len(items)
    full = (*explicit[:at], *fill, *explicit[at:])
    ranges: list[range] = []
    shape: list[int] = []
    for item, size in zip(full, view.shape, strict=True):
        if isinstance(item, slice):
            ranges.append(range(*item.indices(size)))
            shape.append(len(ranges[-1]))
        elif isinstance(item, int):
            if not -size <= item < size:
                return None
            ranges.append(range(item % size, item % size + 1))
    strides = [math.prod(view.shape[i + 1 :]) for i in range(len(view.shape))]
    elements = tuple(
        view.elements[sum(i * s for i, s in zip(position, strides, strict=True))]
        for position in itertools.product(*ranges)
    )
    return Selection(tuple(shape), elements)


def _items(node: ast.expr) -> tuple[IndexItem, ...]:
    parts = node.elts if isinstance(node, ast.Tuple) else [node]
    items = tuple(_item(part) for part in parts)
    if sum(item is Ellipsis for item in items) > 1:
        raise IndexSyntaxError("write `...` at most once in one pair of brackets")
    return items


def _item(node: ast.expr) -> IndexItem:
    if isinstance(node, ast.Constant) and node.value is Ellipsis:
        return Ellipsis
    if isinstance(node, ast.Slice):
        step = _bound(node.step)
        if step is not None and step <= 0:
            raise IndexSyntaxError(
                "a slice's step must be positive: torch refuses `::-1` and `::0`"
            )
        return slice(_bound(node.lower), _bound(node.upper), step)
    return _integer(node)


def _bound(node: ast.expr | None) -> int | None:
    """A slice's start, stop or step: left out, `None` (as in `None:None:2`), or a whole number."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return None
    return _integer(node)


def _integer(node: ast.expr) -> int:
    """A whole number, with any number of minus signs in front (read without recursion)."""
    sign = 1
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        sign, node = -sign, node.operand
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return sign * node.value
    raise IndexSyntaxError(ITEMS_ALLOWED)
