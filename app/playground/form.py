"""The playground's query-string form: raw text in, checked parameters or named problems out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from app.core.forms import field_problems
from app.runner.playground import PlaygroundParams, too_costly

LABELS = {
    "cell": "Cell type",
    "input_size": "input_size",
    "hidden_size": "hidden_size",
    "num_layers": "num_layers",
    "dropout": "dropout",
    "proj_size": "proj_size",
    "input_shape": "Input shape",
    "lengths": "Sequence lengths",
}
FLAGS = ("bidirectional", "batch_first")


def values_of(params: PlaygroundParams) -> dict[str, str]:
    """The form's text for these parameters."""
    values = {name: str(value) for name, value in params.model_dump().items()}
    values["input_shape"] = ", ".join(map(str, params.input_shape))
    values["lengths"] = ", ".join(map(str, params.lengths)) if params.lengths is not None else ""
    return values


def _numbers(text: str) -> list[str]:
    return [part.strip() for part in text.replace("(", "").replace(")", "").split(",") if part]


Parsed = tuple[PlaygroundParams | None, dict[str, str], dict[str, str]]


def parse(query: Mapping[str, str]) -> Parsed:
    """(params or None, the form's values, problems by field). A blank field, or no query at
    all, means the default."""
    if "cell" not in query:
        defaults = PlaygroundParams()
        return defaults, values_of(defaults), {}
    values = {name: query.get(name, "").strip() for name in LABELS}
    values |= {flag: "True" if query.get(flag) else "False" for flag in FLAGS}
    data: dict[str, Any] = {name: values[name] for name in LABELS if values[name]}
    data |= {flag: values[flag] == "True" for flag in FLAGS}
    for name in ("input_shape", "lengths"):
        if values[name]:
            data[name] = _numbers(values[name])
    try:
        params = PlaygroundParams.model_validate(data)
    except ValidationError as exc:
        return None, values, field_problems(exc)
    if costly := too_costly(params):  # valid, but more work than one request may be
        return None, values, {costly.field: costly.message}
    return params, values_of(params), {}  # blanks show the defaults that ran
