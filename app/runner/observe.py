"""What a run's process does with the code, and what it reports back: the exception, tensors,
plain values, warnings, and each hidden test's observations. Runs inside the sandbox, in the
learner process (app.runner.child); imported before the zygote enters its jail."""

from __future__ import annotations

import builtins
import math
import sys
import traceback
import warnings
from typing import Any

import torch

MAX_REPORTED = 100  # variables reported back
TEST_FILE = "<test>"
# CPython's own rule for a traceback: a line repeated more than this is said in words.
REPEATS_SHOWN = 3
NO_INPUT = "input() read nothing: code in the sandbox gets no keyboard input (stdin is empty)"


def execute(code: str, filename: str, tests: list[dict[str, str]]) -> dict[str, Any]:
    """Run `code` (saved as `filename`, so tools that read a function's source work) and
    describe what it left; then each test, in a copy of the code's namespace."""
    namespace: dict[str, Any] = {
        "__name__": "__main__",
        "__file__": filename,
        "__builtins__": builtins,
    }
    report = _observe(code, namespace, filename)
    if report["exception"] is None and report["exit_code"] is None:
        report["tests"] = [
            {"name": test["name"], **_observe(test["code"], dict(namespace), TEST_FILE)}
            for test in tests
        ]
    return report


def _observe(code: str, namespace: dict[str, Any], filename: str) -> dict[str, Any]:
    exception = None
    exit_code = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exec(compile(code, filename, "exec"), namespace)  # noqa: S102 - this is the sandbox
        except SystemExit as exc:
            exit_code = _exit_code(exc)
        except BaseException as exc:  # every exception is part of what torch "really did"
            exception = describe_exception(exc, code, filename)
    return {
        "exception": exception,
        "exit_code": exit_code,
        "tensors": _tensors(namespace),
        "values": _values(namespace),
        "warnings": [_describe_warning(w) for w in caught[:MAX_REPORTED]],
    }


def _exit_code(exc: SystemExit) -> int:
    """As the interpreter would exit: None is 0, an integer itself, anything else (a message)
    is printed and 1."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def describe_exception(exc: BaseException, code: str, filename: str) -> dict[str, Any]:
    lines = code.splitlines()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    if isinstance(exc, SyntaxError) and exc.filename == filename and exc.lineno:
        frames = []  # a syntax error has no frame in the code; its line is on the exception
    shown = _collapse_repeats(
        [f"  line {f.lineno or 0}, in {f.name}\n    {_line(lines, f.lineno or 0)}" for f in frames]
    )
    # A syntax error's str() repeats the file and line, which the result already carries.
    message = (exc.msg if isinstance(exc, SyntaxError) else str(exc))[:4000]
    header = "Traceback (your code):\n" if shown else ""
    return {
        "type": type(exc).__name__,
        "classes": [cls.__name__ for cls in type(exc).__mro__],
        "message": message,
        "traceback": header + "\n".join(shown) + f"\n{type(exc).__name__}: {message}",
        "line": frames[-1].lineno if frames else getattr(exc, "lineno", None),
        "note": _note(exc),
    }


def _line(lines: list[str], lineno: int) -> str:
    return lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""


def _collapse_repeats(entries: list[str]) -> list[str]:
    """A run of identical frames (deep recursion) shown as CPython shows it: the first few,
    then "[Previous line repeated N more times]"."""
    collapsed: list[str] = []
    run = 0
    for i, entry in enumerate(entries):
        run = run + 1 if i and entry == entries[i - 1] else 1
        if run <= REPEATS_SHOWN:
            collapsed.append(entry)
        if run > REPEATS_SHOWN and (i + 1 == len(entries) or entries[i + 1] != entry):
            more = run - REPEATS_SHOWN
            collapsed.append(f"  [Previous line repeated {more} more time{'s' * (more > 1)}]")
    return collapsed


def _note(exc: BaseException) -> str | None:
    """What the sandbox itself had to do with the exception, in words."""
    if isinstance(exc, EOFError) and str(exc) == "EOF when reading a line":  # input()'s own
        return NO_INPUT
    return None


def _describe_warning(w: warnings.WarningMessage) -> dict[str, Any]:
    return {
        "category": w.category.__name__,
        "classes": [cls.__name__ for cls in w.category.__mro__],
        "message": str(w.message)[:1000],
    }


def _public(namespace: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in namespace.items() if not k.startswith("_")]


def _tensors(namespace: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for name, value in _public(namespace):
        if isinstance(value, torch.Tensor):
            dtype = str(value.dtype).removeprefix("torch.")
            found.append({"name": name, "shape": list(value.shape), "dtype": dtype})
    return found[:MAX_REPORTED]


def _values(namespace: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in _public(namespace):
        if isinstance(value, torch.Tensor) and value.ndim == 0:
            value = value.item()
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1 << 63:
            value = "an integer too large to show"
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)
        if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= 200):
            values[name] = value
        if len(values) >= MAX_REPORTED:
            break
    return values
