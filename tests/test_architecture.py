"""The layout's boundaries (pyproject.toml, [tool.importlinter]): the core imports no feature,
no two packages import each other, the sandboxed training code and the runner stay apart from
the web app. Checked on the real import graph, so a new import that crosses a line fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_import_contract_of_the_layout_is_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_a_core_module_importing_a_feature_breaks_the_contract(tmp_path: Path) -> None:
    """The check can fail: a copy of the app whose core imports a feature is refused."""
    import shutil

    copy = tmp_path / "app"
    shutil.copytree(ROOT / "app", copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "core" / "leak.py").write_text("from app.attempts import service  # noqa\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "app.core is not allowed to import app.attempts" in result.stdout
