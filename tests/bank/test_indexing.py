"""app.bank.indexing selects what real torch indexing selects, without running the text."""

from __future__ import annotations

import math
import random

import pytest
import torch

from app.bank.indexing import (
    MAX_INDEXED_ELEMENTS,
    IndexSyntaxError,
    Selection,
    parse_index,
    select,
)

SHAPES = [(4, 3, 16), (2, 5), (7,), (2, 1, 3, 2)]


def torch_selection(expression: str, shape: tuple[int, ...]) -> Selection | None:
    """What torch selects from a tensor whose elements are their own flat positions, or None
    when torch raises an IndexError. The expressions are this test's own, so eval is safe."""
    x = torch.arange(math.prod(shape)).reshape(shape)
    try:
        result = eval(expression, {"x": x})  # the test's own expressions, not input
    except IndexError:
        return None
    return Selection(tuple(result.shape), tuple(result.flatten().tolist()))


def random_expression(rng: random.Random, ndim: int) -> str:
    """`x` and one to three subscripts of integers (some out of range), slices (negative and
    out-of-range bounds, positive steps) and at most one `...` each."""

    def bound() -> str:
        return rng.choice(["", "", str(rng.randint(-6, 6)), "None"])

    def item() -> str:
        kind = rng.random()
        if kind < 0.4:
            return str(rng.randint(-5, 5))
        step = rng.choice(["", "", f":{rng.randint(1, 4)}", ":None"])
        return f"{bound()}:{bound()}{step}"

    subscripts = []
    for _ in range(rng.randint(1, 3)):
        items = [item() for _ in range(rng.randint(0, ndim + 1))]
        if rng.random() < 0.3:
            items.insert(rng.randint(0, len(items)), "...")
        inside = ", ".join(items) + ("," if len(items) == 1 else "")
        subscripts.append(f"[{inside or '()'}]")
    return "x" + "".join(subscripts)


@pytest.mark.parametrize(
    "expression",
    [
        "x",
        "x[-2]",
        "x[2, :]",
        "x[-2][:]",
        "x[..., 0]",
        "x[1, ..., 5:9]",
        "x[...]",
        "x[()]",
        "x[(1,)]",
        "x[:, :, ::5]",
        "x[10:20]",
        "x[-100:100]",
        "x[1:3][1, 2]",
        "x[0, 0, 0]",
        "x[0, 0, 0][...]",
        "x[4]",
        "x[-5]",
        "x[0, 0, 0, 0]",
        "x[0, 0, 0][0]",
    ],
)
def test_a_selection_is_what_torch_selects_from_an_h_n_shaped_tensor(expression: str) -> None:
    shape = (4, 3, 16)
    assert select(parse_index(expression), shape) == torch_selection(expression, shape)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_a_selection_is_what_torch_selects_for_many_random_expressions(
    shape: tuple[int, ...],
) -> None:
    rng = random.Random(f"indexing:{shape}")
    refused = 0
    for _ in range(400):
        expression = random_expression(rng, len(shape))
        expected = torch_selection(expression, shape)
        refused += expected is None
        assert select(parse_index(expression), shape) == expected, expression
    assert 0 < refused < 400  # both kinds of outcome were compared


def test_an_expression_is_read_without_running_it() -> None:
    parsed = parse_index("h_n[-2, 1:, ..., ::3]")
    assert parsed.name == "h_n"
    assert parsed.subscripts == ((-2, slice(1, None), Ellipsis, slice(None, None, 3)),)
    assert parse_index("out").subscripts == ()


@pytest.mark.parametrize(
    "text",
    ["h_n[0](1)", "h_n[h_n[0]]", "h_n[0] + 1", "lambda: 0", "h_n[0.5]", "h_n[2j]", "h_n['a']"],
)
def test_anything_but_a_name_integers_slices_and_ellipsis_is_refused(text: str) -> None:
    with pytest.raises(IndexSyntaxError):
        parse_index(text)


def test_torch_facts_the_refused_forms_rely_on() -> None:
    """Negative and zero steps are refused because torch refuses them for every tensor."""
    x = torch.arange(12).reshape(3, 4)
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        x[::0]


def test_selections_are_only_computed_for_small_tensors() -> None:
    with pytest.raises(ValueError, match=str(MAX_INDEXED_ELEMENTS)):
        select(parse_index("x[0]"), (MAX_INDEXED_ELEMENTS + 1,))
