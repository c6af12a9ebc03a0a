"""The Shape playground's cost bounds: a heavy but valid request is refused before it runs,
with the bound and the figure named (the runner, the app's API and its page all check the same
pure function), and nothing the bank or the playground itself shows comes near them."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from starlette.testclient import TestClient

from app.bank.checks import observe
from app.bank.loader import load_bank
from app.bank.schema import AnyQuestion, CodeQuestion
from app.bank.variants import check_code, seeds, substitute
from app.runner.playground import (
    MAX_FLOP,
    MAX_PARAMETERS,
    MAX_STEPS,
    PlaygroundParams,
    cost_of,
    is_heavy,
    too_costly,
)
from app.runner.playground_pool import PlaygroundPool
from tests.runner.conftest import MODE, Runner

REAL_BANK = Path(__file__).resolve().parents[2] / "questions"
# The probe that blocked everyone: 4-layer, 512-wide LSTMs on about a million input elements.
PROBE = {"cell": "LSTM", "input_size": 30, "hidden_size": 512, "num_layers": 4}
PROBE_INPUT = [8, 4096, 30]
# One over each bound, alone.
TOO_MANY_PARAMETERS = {**PROBE, "input_shape": [2, 3, 30]}
TOO_MANY_FLOP = {"cell": "LSTM", "input_size": 30, "hidden_size": 512, "input_shape": PROBE_INPUT}
TOO_MANY_STEPS = {"cell": "LSTM", "input_size": 1, "hidden_size": 1, "num_layers": 4}
TOO_MANY_STEPS |= {"input_shape": [244, 4096, 1]}
# What the playground shows of itself: its defaults and the examples in its form's help; and
# the deepest layer of each cell on the default input.
PRESETS = [
    {},
    {"input_shape": [4, 7, 10]},
    {"input_shape": [7, 10]},
    {"input_shape": [4, 7, 10], "lengths": [7, 5, 3, 2]},
    *(
        {"cell": cell, "num_layers": 4, "proj_size": 5 if cell == "LSTM" else 0}
        for cell in ["RNN", "GRU", "LSTM"]
    ),
]


def test_cost_counts_parameters_exactly_as_torch_does() -> None:
    for cell, layers, bidirectional, proj in itertools.product(
        ("RNN", "GRU", "LSTM"), (1, 2, 3), (False, True), (0, 3)
    ):
        if proj and cell != "LSTM":
            continue
        options: dict[str, Any] = {"num_layers": layers, "bidirectional": bidirectional}
        params = PlaygroundParams(cell=cell, input_size=7, hidden_size=5, proj_size=proj, **options)
        layer = getattr(torch.nn, cell)(7, 5, **options, **({"proj_size": proj} if proj else {}))
        assert cost_of(params).parameters == sum(p.numel() for p in layer.parameters()), params


def test_cost_estimates_flop_per_step_layer_and_direction() -> None:
    """gates x (input + hidden) x hidden x 2, times batch x length; a higher layer reads both
    directions of the one below."""
    params = PlaygroundParams(cell="GRU", input_size=10, hidden_size=20, num_layers=2)
    per_position = 3 * (10 + 20) * 20 * 2 + 3 * (40 + 20) * 20 * 2
    assert cost_of(params).flop == 2 * per_position * 4 * 7  # two directions, input (4, 7, 10)
    assert cost_of(params).steps == 4 * 7 * 2 * 2


@pytest.mark.parametrize(
    ("params", "named"),
    [
        (TOO_MANY_PARAMETERS, f"the playground allows {MAX_PARAMETERS:,}"),
        (TOO_MANY_FLOP, f"the playground allows {MAX_FLOP / 1e9:g} GFLOP"),
        (TOO_MANY_STEPS, f"the playground allows {MAX_STEPS:,}"),
    ],
    ids=["parameters", "flop", "steps"],
)
def test_the_runner_refuses_an_over_cost_model_naming_the_limit_and_the_figure(
    runner: Runner, params: dict[str, Any], named: str
) -> None:
    with runner.client() as client:
        response = client.post("/v1/playground", json={"params": params})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "too_costly"
    assert named in body["message"]
    expected = too_costly(PlaygroundParams(**params))
    assert expected is not None and body["message"] == expected.message, "with its figure"


def test_the_probe_is_refused_with_its_figure() -> None:
    problem = too_costly(PlaygroundParams(**PROBE, input_shape=PROBE_INPUT))
    assert problem is not None
    assert problem.message == (
        "this model has 21,127,168 parameters; the playground allows 10,000,000"
    ), "refused on its parameters alone, whatever its input"
    flop = too_costly(PlaygroundParams(**TOO_MANY_FLOP))
    assert flop is not None and re.fullmatch(
        r"this model needs about 145\.\d GFLOP for this input; the playground allows 2 GFLOP",
        flop.message,
    )


def test_the_app_refuses_an_over_cost_model_with_its_error_shape(app_client: TestClient) -> None:
    response = app_client.post("/api/v1/playground", json=TOO_MANY_FLOP)
    assert response.status_code == 422, response.text
    body = response.json()
    assert (body["code"], body["field"]) == ("too_costly", "input_shape")
    assert "GFLOP for this input; the playground allows 2 GFLOP" in body["message"]


def test_the_page_names_the_bound_beside_the_field(app_client: TestClient) -> None:
    query = "cell=LSTM&input_size=30&hidden_size=512&num_layers=4&bidirectional=on"
    query += "&input_shape=2,3,30"
    page = app_client.get(f"/playground?{query}")
    assert page.status_code == 422
    assert 'id="hidden_size-problem"' in page.text
    assert "this model has 21,127,168 parameters; the playground allows 10,000,000" in page.text


@pytest.mark.parametrize("preset", PRESETS)
def test_the_playgrounds_own_presets_are_within_the_bounds(
    preset: dict[str, Any], runner: Runner
) -> None:
    params = PlaygroundParams(**preset)
    assert too_costly(params) is None, cost_of(params)
    with runner.client() as client:
        response = client.post("/v1/playground", json={"params": params.model_dump()})
    assert response.status_code == 200, response.text


def test_every_recurrent_layer_in_the_bank_is_within_the_bounds() -> None:
    """Every nn.RNN, nn.GRU and nn.LSTM that the bank's checks, variants, prompts and code
    questions build, with the input each is called on, as a playground request."""
    layers = list(bank_layers())
    assert len(layers) >= 100, "the trace found the bank's layers"
    over = [(params, too_costly(params)) for params in layers if too_costly(params)]
    assert not over, over


def bank_layers() -> Iterator[PlaygroundParams]:
    seen: list[PlaygroundParams] = []

    def record(module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        if isinstance(module, torch.nn.RNNBase) and args:
            seen.append(as_request(module, args[0]))

    hook = torch.nn.modules.module.register_module_forward_pre_hook(record)
    try:
        for question in (
            q.question for t in load_bank(REAL_BANK).topics.values() for q in t.questions
        ):
            for code in examples(question):
                namespace: dict[str, Any] = {"__name__": "__main__"}
                observe(code, namespace)
                if isinstance(question, CodeQuestion):
                    for test in question.tests:
                        observe(test.code, dict(namespace))
    finally:
        hook.remove()
    yield from seen


def examples(question: AnyQuestion) -> Iterator[str]:
    """The question's runnable code: its check (each variant's), its prompt's Python blocks,
    and a code question's starter and reference solution."""
    values = [v for _, v in seeds(question)] if question.variants else [{}]
    blocks = re.findall(r"```python\n(.*?)```", question.prompt, re.DOTALL)
    for variant in values:
        texts = {k: str(v) for k, v in variant.items()}
        yield from (substitute(block, texts) for block in blocks)
        if question.check is not None:
            yield check_code(question, variant) if variant else question.check.code
    if isinstance(question, CodeQuestion):
        yield from (question.starter, question.solution_code)


def as_request(layer: torch.nn.RNNBase, given: Any) -> PlaygroundParams:
    """The playground request that builds this layer and feeds it an input of this shape (a
    packed batch as the padded one it came from). Built without the fields' own bounds: only
    the cost bounds are under test."""
    if isinstance(given, torch.nn.utils.rnn.PackedSequence):
        length, batch = len(given.batch_sizes), int(given.batch_sizes[0])
        shape = [batch, length, given.data.shape[-1]]
    else:
        shape = list(given.shape)
    return PlaygroundParams.model_construct(
        cell=layer.mode if layer.mode in ("LSTM", "GRU") else "RNN",
        input_size=layer.input_size,
        hidden_size=layer.hidden_size,
        num_layers=layer.num_layers,
        bidirectional=layer.bidirectional,
        batch_first=layer.batch_first,
        proj_size=layer.proj_size,
        input_shape=shape,
    )


# --- heavy requests take turns ---

HEAVY = {"cell": "GRU", "input_size": 1, "hidden_size": 1, "num_layers": 4}
HEAVY |= {"input_shape": [1, 4096, 1]}  # within the bounds, but 32,768 steps one by one


def test_requests_near_the_bounds_or_long_sequences_are_heavy() -> None:
    assert is_heavy(PlaygroundParams(**HEAVY))
    assert is_heavy(PlaygroundParams(**{**TOO_MANY_FLOP, "input_shape": [1, 300, 30]}))
    assert not any(is_heavy(PlaygroundParams(**preset)) for preset in PRESETS)


def test_a_light_request_gets_a_worker_while_heavy_ones_take_turns() -> None:
    """Two workers, one heavy place: the light request, sent last, is answered first."""

    async def scenario() -> list[str]:
        pool = PlaygroundPool(workers=2, mode=MODE, uid_base=62010, timeout=30)
        await pool.start()
        answered: list[str] = []

        async def explore(name: str, params: PlaygroundParams) -> None:
            result = await pool.explore(params)
            assert result.error is None and result.limit is None, result
            answered.append(name)

        try:
            heavy = PlaygroundParams(**HEAVY)
            sent = [explore(f"heavy {i}", heavy) for i in range(3)]
            sent.append(explore("light", PlaygroundParams()))
            await asyncio.gather(*sent)
            return answered
        finally:
            await pool.close()

    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        answered = thread.submit(asyncio.run, scenario()).result()
    assert answered == ["light", "heavy 0", "heavy 1", "heavy 2"]
