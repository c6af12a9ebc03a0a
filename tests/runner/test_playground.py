"""The Shape playground: real torch answers from warm workers, through the runner and the app."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.runner.playground import PlaygroundParams, PlaygroundResult
from app.runner.playground_pool import PlaygroundPool
from tests.runner.conftest import MODE, Runner


def explore(runner: Runner, **params: Any) -> PlaygroundResult:
    with runner.client() as client:
        response = client.post("/v1/playground", json={"params": params})
    assert response.status_code == 200, response.text
    return PlaygroundResult.model_validate_json(response.content)


def test_bidirectional_lstm_with_projection(runner: Runner) -> None:
    result = explore(runner, cell="LSTM", num_layers=2, proj_size=5, input_shape=[4, 7, 10])
    assert result.error is None
    # h_n is projected to proj_size, c_n keeps hidden_size, out joins both directions.
    assert result.shapes == {"out": [4, 7, 10], "h_n": [4, 4, 5], "c_n": [4, 4, 20]}
    assert [(g.layer, g.direction) for g in result.groups] == [
        (0, "forward"),
        (0, "backward"),
        (1, "forward"),
        (1, "backward"),
    ]
    assert "weight_hr_l0_reverse" in [p.name for p in result.groups[1].parameters]
    assert result.total_parameters == sum(g.count for g in result.groups)


def test_packed_batch_pads_back_to_the_longest_length(runner: Runner) -> None:
    result = explore(
        runner, cell="GRU", batch_first=True, input_shape=[3, 9, 10], lengths=[5, 3, 2]
    )
    assert result.shapes["out"] == [3, 5, 40], "pad_packed_sequence pads to the longest"
    assert "pack_padded_sequence" in result.code


def test_the_error_torch_raises_is_the_answer(runner: Runner) -> None:
    result = explore(runner, cell="RNN", input_size=10, input_shape=[2, 3, 11])
    assert result.error is not None and result.error.type == "RuntimeError"
    assert "Expected 10, got 11" in result.error.message
    assert result.shapes == {}
    assert result.total_parameters > 0, "the layer was built before the call failed"


def test_too_much_memory_is_an_error_not_a_crash() -> None:
    """The worker's memory cap, behind the cost bounds (which the runner's route checks
    first): a request past them fails inside torch, and the worker lives on."""
    big = PlaygroundParams(cell="LSTM", input_size=1, hidden_size=512, input_shape=[244, 4096, 1])

    async def scenario() -> tuple[PlaygroundResult, PlaygroundResult]:
        pool = PlaygroundPool(workers=1, mode=MODE, uid_base=62000, timeout=30)
        await pool.start()
        try:
            return await pool.explore(big), await pool.explore(PlaygroundParams())
        finally:
            await pool.close()

    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        result, after = thread.submit(asyncio.run, scenario()).result()
    assert result.error is not None and "allocate" in result.error.message
    assert after.error is None, "the worker keeps answering"


def test_the_equivalent_code_is_what_ran(runner: Runner) -> None:
    """Run the shown code as an ordinary snippet in the sandbox: same shapes."""
    result = explore(runner, cell="GRU", num_layers=3, batch_first=False, input_shape=[6, 2, 10])
    snippet = runner.run(result.code)
    assert snippet.ok, snippet
    shapes = {t.name: t.shape for t in snippet.tensors if t.name in result.shapes}
    assert shapes == result.shapes


def test_bad_parameters_are_refused_with_the_field_named(runner: Runner) -> None:
    with runner.client() as client:
        response = client.post("/v1/playground", json={"params": {"input_shape": [5000, 1]}})
    assert response.status_code == 422
    assert "between 1 and 4096" in response.text


def test_a_slow_request_is_stopped_and_the_worker_replaced() -> None:
    async def scenario() -> tuple[PlaygroundResult, PlaygroundResult]:
        pool = PlaygroundPool(workers=1, mode=MODE, uid_base=62000, timeout=0.05)
        await pool.start()
        try:
            slow = PlaygroundParams(
                cell="LSTM", input_size=8, hidden_size=256, num_layers=4, input_shape=[2, 2000, 8]
            )
            stopped = await pool.explore(slow)
            pool.timeout = 30  # the replacement must warm up first; the next request waits
            return stopped, await pool.explore(PlaygroundParams())
        finally:
            await pool.close()

    # A thread of its own: the browser tests' Playwright keeps an event loop in the main one.
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        stopped, after = thread.submit(asyncio.run, scenario()).result()
    assert stopped.limit is not None and "0.05 s" in stopped.limit
    assert "nn.LSTM(8, 256" in stopped.code
    assert after.error is None and after.shapes["out"] == [4, 7, 40]


# --- the app: JSON API and page ---


def test_api_explores_and_validates(app_client: TestClient) -> None:
    response = app_client.post("/api/v1/playground", json={"cell": "RNN", "input_shape": [7, 10]})
    assert response.status_code == 200, response.text
    assert response.json()["shapes"] == {"out": [7, 40], "h_n": [2, 20]}
    wrong = app_client.post("/api/v1/playground", json={"cell": "Transformer"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "cell"
    extra = app_client.post("/api/v1/playground", json={"hidden": 3})
    assert extra.status_code == 422 and extra.json()["field"] == "hidden"


def test_page_shows_shapes_parameters_and_code(app_client: TestClient) -> None:
    query = "cell=GRU&input_size=10&hidden_size=20&num_layers=2&bidirectional=on&input_shape=4,7,10"
    page = app_client.get(f"/playground?{query}")
    assert page.status_code == 200
    html = page.text
    assert "Output shape (4, 7, 40); h_n (4, 7, 20)" in html, "batch_first unchecked: seq first"
    assert html.count('<th scope="row">1</th>') == 2, "layer 1, both directions"
    assert "language-python" in html and 'nn</span><span class="o">.</span><span' in html


def test_page_names_each_bad_field(app_client: TestClient) -> None:
    page = app_client.get("/playground?cell=LSTM&hidden_size=0&input_shape=4,x")
    assert page.status_code == 422
    assert 'id="hidden_size-problem"' in page.text and 'id="input_shape-problem"' in page.text
    assert "Fix the 2 problems in the form" in page.text


@pytest.mark.parametrize("query", ["", "cell=LSTM&bidirectional=on&batch_first=on"])
def test_page_defaults(app_client: TestClient, query: str) -> None:
    page = app_client.get(f"/playground?{query}")
    assert page.status_code == 200
    assert "Output shape (4, 7, 40)" in page.text
