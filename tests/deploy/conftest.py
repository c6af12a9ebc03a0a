"""Shared readers for the container files: the Dockerfile, compose.yaml and deploy/."""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from starlette.routing import Match

from app.core.config import Settings

PROJECT = Path(__file__).resolve().parents[2]
DEPLOY = PROJECT / "deploy"


def load_deploy_module(name: str) -> ModuleType:
    """A script in deploy/ (not a package: it also runs alone inside the image)."""
    spec = importlib.util.spec_from_file_location(f"deploy_{name}", DEPLOY / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of ./Dockerfile, continuation lines joined."""
    text = (PROJECT / "Dockerfile").read_text()
    text = re.sub(r"\\\n(\s*#.*\n)*", " ", text)
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in dockerfile_instructions():
        if word == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def compose() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((PROJECT / "compose.yaml").read_text())
    return spec


def docker_compose() -> str:
    """Debian's docker-compose 1.29, which validates a compose file without an engine
    (`make deploy-deps` installs it; CI runs that target)."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed: run `make deploy-deps`")
    return binary


def settings_fields() -> set[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}


def serves(app: FastAPI, path: str, method: str = "GET") -> bool:
    """Whether one of the app's routes answers METHOD PATH (routers included lazily too)."""
    scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}
    return any(route.matches(scope)[0] == Match.FULL for route in app.routes)


@pytest.fixture(scope="session")
def built_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The app, built but not started: no database needed."""
    from app.main import create_app

    instance = tmp_path_factory.mktemp("instance")
    return create_app(Settings(instance_dir=instance, secret_key="x"))
