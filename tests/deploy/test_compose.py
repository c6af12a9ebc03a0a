"""compose.yaml: valid, and in agreement with the app (settings, CLI, port, health paths),
the image and the documented runtime flags."""

from __future__ import annotations

import re
import subprocess
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import make_url

import app.cli
from app.core.config import Settings, normalise_db_url
from tests.deploy.conftest import (
    PROJECT,
    compose,
    docker_compose,
    dockerfile_env,
    serves,
    settings_fields,
)

# What README.md (section "Container") explains, flag by flag; nothing more is granted.
SECURITY_OPTS = {
    "seccomp=deploy/seccomp-sandbox.json",
    "apparmor=unconfined",
    "systempaths=unconfined",
}


def substituted(value: str) -> str:
    """A compose value with each ${NAME:-default} (or ${NAME:?...}) replaced by its default."""
    return re.sub(r"\$\{\w+(?::?-([^}]*))?[^}]*\}", lambda m: m.group(1) or "", value)


def service(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = compose()["services"][name]
    return spec


def test_docker_compose_finds_compose_yaml_valid() -> None:
    result = subprocess.run(
        [
            docker_compose(),
            "--project-directory",
            str(PROJECT),
            "-f",
            "compose.yaml",
            "config",
            "-q",
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_runs_the_app_beside_the_official_postgres_image() -> None:
    services = compose()["services"]
    assert set(services) == {"app", "db"}
    assert services["db"]["image"].split(":")[0] == "postgres"
    assert services["app"]["build"] == "."
    assert services["app"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_the_database_and_the_instance_folder_live_in_named_volumes() -> None:
    volumes = compose()["volumes"]
    assert service("db")["volumes"] == ["db:/var/lib/postgresql/data"]
    assert service("app")["volumes"] == ["data:/data"]
    assert set(volumes) == {"db", "data"}
    environment = service("app")["environment"]
    assert environment["TORCHQUIZ_INSTANCE_DIR"] == dockerfile_env()["TORCHQUIZ_INSTANCE_DIR"]


def test_the_app_is_configured_only_through_variables_the_app_reads() -> None:
    names = set(service("app")["environment"])
    assert {"TORCHQUIZ_DATABASE_URL", "TORCHQUIZ_SECRET_KEY"} <= names
    assert names <= settings_fields(), names - settings_fields()


def test_the_database_url_reaches_the_db_service_with_its_own_credentials() -> None:
    db = service("db")["environment"]
    url = make_url(substituted(service("app")["environment"]["TORCHQUIZ_DATABASE_URL"]))
    assert url.host == "db"
    assert url.port == 5432
    assert url.username == db["POSTGRES_USER"]
    assert url.password == substituted(db["POSTGRES_PASSWORD"])
    assert url.database == db["POSTGRES_DB"]
    assert make_url(normalise_db_url(str(url))).drivername == "postgresql+psycopg"


def test_the_secret_key_comes_from_the_environment_and_the_settings_accept_its_default() -> None:
    raw = service("app")["environment"]["TORCHQUIZ_SECRET_KEY"]
    assert raw.startswith("${TORCHQUIZ_SECRET_KEY")
    environment = substituted(service("app")["environment"]["TORCHQUIZ_ENVIRONMENT"])
    # The defaults start: an empty key is generated into the data volume in development.
    Settings(environment=environment, secret_key=substituted(raw))


def test_compose_publishes_the_port_the_server_listens_on() -> None:
    port = service("app")["environment"]["TORCHQUIZ_PORT"]
    assert port == dockerfile_env()["TORCHQUIZ_PORT"] == str(Settings.model_fields["port"].default)
    (published,) = service("app")["ports"]
    assert substituted(published).endswith(f":{port}")


def test_the_command_is_a_command_of_the_cli() -> None:
    command = service("app")["command"]
    assert command[0] == "torchquiz"
    assert command[1] in app.cli.main.commands


def test_the_app_health_check_asks_readyz_which_the_app_serves(built_app: FastAPI) -> None:
    test = service("app")["healthcheck"]["test"]
    assert test == ["CMD", "python", "/srv/torchquiz/deploy/healthcheck.py", "/readyz"]
    assert serves(built_app, "/readyz")


def test_every_service_has_a_health_check() -> None:
    for name, spec in compose()["services"].items():
        assert spec["healthcheck"]["test"], name
    # Warming torch and the runner's workers takes a while: no restart loop meanwhile.
    start = service("app")["healthcheck"]["start_period"]
    assert int(start.rstrip("s")) >= 120


def test_the_app_gets_the_documented_security_options_and_no_privileges() -> None:
    app_service = service("app")
    assert set(app_service["security_opt"]) == SECURITY_OPTS
    assert not app_service.get("privileged")
    assert "cap_add" not in app_service
    assert (PROJECT / "deploy" / "seccomp-sandbox.json").is_file()
    readme = (PROJECT / "README.md").read_text()
    smoke = (PROJECT / "deploy" / "smoke.sh").read_text()
    for option in SECURITY_OPTS:
        assert f"--security-opt {option}" in readme
        flag = option.replace("deploy/", '"$here/').replace(".json", '.json"')
        assert f"--security-opt {flag}" in smoke, flag
