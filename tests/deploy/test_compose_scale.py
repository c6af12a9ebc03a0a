"""compose.scale.yaml: valid for docker-compose, and in agreement with the app (settings, CLI,
health paths), the runner's queue, deploy/nginx.conf and the documented sandbox flags."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import subprocess
from typing import Any

import yaml
from fastapi import FastAPI

import app.cli
from app.core.config import Settings
from app.runner.settings import ENV_PREFIX as RUNNER_PREFIX
from app.runner.settings import RunnerSettings
from tests.deploy.conftest import DEPLOY, PROJECT, docker_compose, serves, settings_fields
from tests.deploy.test_compose import SECURITY_OPTS, substituted

TORCHQUIZ = ("migrate", "app-1", "app-2", "runner")
APPS = ("app-1", "app-2")
CHECK = ("config", "-q")


def scale() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((PROJECT / "compose.scale.yaml").read_text())
    return spec


def service(name: str) -> dict[str, Any]:
    """A service with the extension fields (x-...) merged in, as compose does."""
    spec: dict[str, Any] = scale()["services"][name]  # PyYAML resolves the << merge keys
    return spec


def config(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [docker_compose(), "--project-directory", str(PROJECT), "-f", "compose.scale.yaml", *CHECK],
        cwd=PROJECT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_docker_compose_finds_the_scaled_file_valid_and_insists_on_a_shared_secret_key() -> None:
    result = config(TORCHQUIZ_SECRET_KEY="a-key")
    assert result.returncode == 0, result.stderr
    refused = config()
    assert refused.returncode != 0
    assert "TORCHQUIZ_SECRET_KEY" in refused.stderr


def test_two_app_replicas_a_runner_a_migrate_job_postgres_redis_and_a_proxy() -> None:
    services = scale()["services"]
    assert set(services) == {"db", "redis", "migrate", "app-1", "app-2", "runner", "proxy"}
    assert services["db"]["image"].split(":")[0] == "postgres"
    assert services["redis"]["image"] == "redis:7"
    assert services["proxy"]["image"].split(":")[0] == "nginx"
    commands = {name: service(name)["command"] for name in TORCHQUIZ}
    assert commands["migrate"] == ["torchquiz", "migrate"]
    assert commands["app-1"] == commands["app-2"] == ["torchquiz", "serve"]
    assert commands["runner"][:2] == ["torchquiz", "runner"]
    for command in commands.values():
        assert command[1] in app.cli.main.commands
    # One image for all: built once (by the migrate job), named the same everywhere.
    assert {service(name)["image"] for name in TORCHQUIZ} == {"torchquiz:latest"}
    assert service("migrate")["build"] == "."


def test_the_apps_start_after_the_migrate_job_and_the_proxy_after_the_apps() -> None:
    for name in APPS:
        depends = service(name)["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["db"]["condition"] == depends["redis"]["condition"] == "service_healthy"
    assert service("migrate")["depends_on"]["db"]["condition"] == "service_healthy"
    assert service("migrate")["restart"] == "no"
    proxy = service("proxy")["depends_on"]
    assert {name: proxy[name]["condition"] for name in APPS} == dict.fromkeys(
        APPS, "service_healthy"
    )


def test_every_long_running_service_has_a_health_check_on_a_path_its_server_serves(
    built_app: FastAPI,
) -> None:
    for name in ("db", "redis", "app-1", "app-2", "runner", "proxy"):
        assert service(name)["healthcheck"]["test"], name
    app_check = service("app-1")["healthcheck"]["test"]
    assert app_check[:3] == ["CMD", "python", "/srv/torchquiz/deploy/healthcheck.py"]
    assert app_check[3] == "/readyz" and serves(built_app, app_check[3])
    runner_check = service("runner")["healthcheck"]["test"]
    port = RunnerSettings.model_fields["port"].default
    assert runner_check[3:] == ["/healthz", str(port), "--ready"]
    assert "/proxy-health" in " ".join(service("proxy")["healthcheck"]["test"])
    assert "location = /proxy-health" in (DEPLOY / "nginx.conf").read_text()


def test_every_torchquiz_container_runs_with_a_read_only_root_and_a_private_tmp() -> None:
    for name in (*TORCHQUIZ, "proxy"):
        spec = service(name)
        assert spec["read_only"] is True, name
        assert "/tmp" in spec["tmpfs"], name


def test_the_containers_are_configured_only_through_variables_their_process_reads() -> None:
    runner_fields = {f"{RUNNER_PREFIX}{name}".upper() for name in RunnerSettings.model_fields}
    for name in ("migrate", *APPS):
        names = set(service(name)["environment"])
        assert names <= settings_fields(), names - settings_fields()
    names = set(service("runner")["environment"])
    assert names <= runner_fields, names - runner_fields


def test_apps_and_runners_meet_on_one_redis_under_one_prefix() -> None:
    app_env = service("app-1")["environment"]
    runner_env = service("runner")["environment"]
    assert app_env["TORCHQUIZ_REDIS_URL"].startswith("redis://redis:")
    assert app_env["TORCHQUIZ_RUNNER_URL"] == app_env["TORCHQUIZ_REDIS_URL"]
    assert runner_env["TORCHQUIZ_RUNNER_QUEUE"] == app_env["TORCHQUIZ_REDIS_URL"]
    prefix = Settings.model_fields["redis_prefix"].default
    assert runner_env["TORCHQUIZ_RUNNER_REDIS_PREFIX"] == prefix
    assert app_env.get("TORCHQUIZ_REDIS_PREFIX", prefix) == prefix
    RunnerSettings(queue=runner_env["TORCHQUIZ_RUNNER_QUEUE"])  # a URL the runner accepts
    # Both replicas alike, and every replica signs with the one key it is given.
    assert service("app-1")["environment"] == service("app-2")["environment"]
    assert app_env["TORCHQUIZ_SECRET_KEY"].startswith("${TORCHQUIZ_SECRET_KEY:?")


def test_only_the_proxys_network_is_trusted_with_the_clients_address() -> None:
    spec = scale()
    subnet = ipaddress.ip_network(spec["networks"]["front"]["ipam"]["config"][0]["subnet"])
    trusted = service("app-1")["environment"]["TORCHQUIZ_TRUSTED_PROXIES"]
    assert ipaddress.ip_network(trusted) == subnet
    assert service("proxy")["networks"] == ["front"]
    for name in ("db", "redis", "migrate", "runner"):
        assert "front" not in service(name)["networks"], name
    for name in APPS:
        assert set(service(name)["networks"]) == {"front", "back"}


def test_the_proxy_sends_to_each_app_replica_on_the_port_it_listens_on() -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    upstream = re.search(r"upstream torchquiz \{(.*?)\}", conf, re.S)
    assert upstream
    servers = re.findall(r"^\s*server (\S+)", upstream.group(1), re.M)
    port = service("app-1")["environment"]["TORCHQUIZ_PORT"]
    assert servers == [f"{name}:{port}" for name in APPS]
    assert service("proxy")["volumes"] == ["./deploy/nginx.conf:/etc/nginx/nginx.conf:ro"]
    assert substituted(service("proxy")["ports"][0]).endswith(":8080")
    assert re.search(r"^\s*listen 8080;", conf, re.M)


def test_only_the_runner_gets_the_sandboxs_options_and_it_gets_no_capabilities() -> None:
    runner = service("runner")
    assert set(runner["security_opt"]) == SECURITY_OPTS | {"no-new-privileges:true"}
    assert runner["cap_drop"] == ["ALL"]
    assert not runner.get("privileged") and "cap_add" not in runner
    for name in ("migrate", *APPS):
        assert "security_opt" not in service(name), name


def test_the_replicas_settings_pass_the_production_checks_given_a_real_key() -> None:
    env = {
        name.removeprefix("TORCHQUIZ_").lower(): substituted(value)
        for name, value in service("app-1")["environment"].items()
    }
    assert env["environment"] == "production"
    env["secret_key"] = secrets.token_urlsafe(48)
    settings = Settings.model_validate(env)  # given values win over the environment
    assert settings.production_problems() == []
    assert not settings.is_sqlite()
