"""The lab's training code (app.training) runs in the sandbox, where the app's files cannot be
read: loaded, it has loaded nothing of the app but its bounds, and nothing of the web stack; its
config and data design stay torch-free for the web process; a learner's own model's harness
imports only it. (Which package may import which: tests/test_architecture.py.)"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from typing import Any

import pytest

from app.core.config import PROJECT_DIR
from app.lab.custom import program
from app.training.config import LabConfig

IMPORTS = """
import json, sys
import app.training.config, app.training.design
torch_free = "torch" not in sys.modules
import app.training.dataset, app.training.loop
print(json.dumps({"torch_free": torch_free, "modules": sorted(sys.modules)}))
"""
WEB_STACK = ("fastapi", "starlette", "sqlalchemy", "httpx", "jinja2", "psycopg")


@pytest.fixture(scope="module")
def imported() -> dict[str, Any]:
    """What a fresh interpreter has loaded once it imported the whole package."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def app_imports(source: str) -> set[str]:
    """The app's modules that this source imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return {name for name in found if name == "app" or name.startswith("app.")}


def test_the_training_code_imports_nothing_of_the_app_but_its_bounds(
    imported: dict[str, Any],
) -> None:
    ours = {m for m in imported["modules"] if m == "app" or m.startswith("app.")}
    assert ours - {"app", "app.core", "app.core.bounds"} == {
        "app.training",
        "app.training.config",
        "app.training.dataset",
        "app.training.design",
        "app.training.loop",
    }
    assert not [m for m in imported["modules"] if m.split(".")[0] in WEB_STACK]


def test_the_config_and_the_data_design_are_torch_free(imported: dict[str, Any]) -> None:
    assert imported["torch_free"]


def test_a_learners_model_is_trained_by_a_harness_that_imports_only_the_training_code() -> None:
    source = program("class Model:\n    pass\n", LabConfig(), task=True)
    assert app_imports(source) == {
        "app.training.config",
        "app.training.dataset",
        "app.training.loop",
    }
