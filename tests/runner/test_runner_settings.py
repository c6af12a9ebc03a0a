"""The runner's settings: read from TORCHQUIZ_RUNNER_* (the names the runner's command line
options had), handed whole to an embedded runner and nothing of the app's with them, checked at
start with each bad setting named and no value shown; the command line says only where to
listen and which sandbox."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from app.cli import main
from app.runner import embedded
from app.runner.sandbox import Sandbox
from app.runner.settings import RunnerSettings


def test_the_runner_reads_its_settings_from_its_own_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "LAB_WORKERS": "3",
        "LAB_QUEUE_PER_ADDRESS": "2",
        "PARALLEL": "5",
        "BURST": "4",
        "ADDRESS_PER_MINUTE": "60",
        "UID_BASE": "61500",
        "TOKEN": "shared",
        "SANDBOX": "rootless",
    }.items():
        monkeypatch.setenv(f"TORCHQUIZ_RUNNER_{name}", value)
    monkeypatch.setenv("TORCHQUIZ_RUNNER_URL", "http://elsewhere:8100")  # the app's, not ours

    settings = RunnerSettings()
    pool = settings.pool_config("rootless")
    limits = settings.run_limits()

    assert (settings.token, settings.sandbox) == ("shared", "rootless")
    assert (pool.mode, pool.lab_workers, pool.lab_queue_per_address) == ("rootless", 3, 2)
    assert (pool.parallel, pool.uid_base) == (5, 61500)
    assert (limits.learner.burst, limits.learner.per_minute) == (4, 30)
    assert limits.address.per_minute == 60


def test_an_embedded_runner_gets_its_settings_whole_and_nothing_of_the_apps(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    started: list[dict[str, Any]] = []

    class Process:
        def __init__(self, *args: Any, **options: Any) -> None:
            started.append(options)

        def terminate(self) -> None: ...

        def wait(self, timeout: float) -> int:
            return 0

    monkeypatch.setattr(embedded.subprocess, "Popen", Process)
    monkeypatch.setenv("TORCHQUIZ_SECRET_KEY", "the-apps-secret")
    monkeypatch.setenv("TORCHQUIZ_RUNNER_URL", "")
    settings = RunnerSettings(lab_workers=2, uid_base=61500, token="shared", sandbox="rootless")

    with embedded.embedded_runner(tmp_path / "r.sock", settings, wait=False):
        pass

    (env,) = [options["env"] for options in started]
    # Of the app's settings only the log format, so both write one kind of line.
    log_format = {"TORCHQUIZ_LOG_FORMAT": os.environ.get("TORCHQUIZ_LOG_FORMAT", "text")}
    assert env == {"PATH": os.environ["PATH"], **settings.environ(), **log_format}
    for name, value in settings.environ().items():
        monkeypatch.setenv(name, value)
    assert RunnerSettings() == settings, "the runner reads back the very same settings"


def test_lanes_that_do_not_fit_the_slots_are_refused_naming_the_setting() -> None:
    with pytest.raises(ValidationError) as refused:
        RunnerSettings(zygotes=1, slots=2, parallel=4)
    assert "TORCHQUIZ_RUNNER_SLOTS" in str(refused.value)


def test_an_invalid_runner_setting_stops_the_command_naming_it_and_not_its_value() -> None:
    secret = secrets.token_hex(12)
    env = {"TORCHQUIZ_RUNNER_TOKEN": secret, "TORCHQUIZ_RUNNER_PARALLEL": f"many-{secret}"}

    done = CliRunner().invoke(main, ["runner"], env=env)

    assert done.exit_code == 1
    assert done.stderr.startswith("The settings are not valid:")
    assert "TORCHQUIZ_RUNNER_PARALLEL" in done.stderr
    assert secret not in done.output + done.stderr
    assert "Traceback" not in done.output


def test_the_command_line_says_where_to_listen_and_the_settings_say_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: list[dict[str, Any]] = []
    built: list[RunnerSettings] = []
    asked: list[str] = []

    def detect(choice: str) -> Sandbox:
        asked.append(choice)
        return Sandbox("rootless")

    def create_runner_app(settings: RunnerSettings, *, sandbox: Sandbox) -> str:
        built.append(settings)
        return "the runner's app"

    monkeypatch.setattr("uvicorn.run", lambda app, **where: served.append(where))
    monkeypatch.setattr("app.runner.server.create_runner_app", create_runner_app)
    monkeypatch.setattr("app.runner.sandbox.detect", detect)
    monkeypatch.setattr(os, "umask", lambda mask: 0o022)  # the test process's own stays
    env = {"TORCHQUIZ_RUNNER_PORT": "9001", "TORCHQUIZ_RUNNER_LAB_WORKERS": "2"}

    by_env = CliRunner().invoke(main, ["runner"], env=env)
    by_options = CliRunner().invoke(
        main, ["runner", "--port", "9100", "--sandbox", "rootless"], env=env
    )
    on_socket = CliRunner().invoke(main, ["runner", "--uds", "/tmp/r.sock"], env=env)

    assert by_env.exit_code == by_options.exit_code == on_socket.exit_code == 0, by_env.output
    assert [where.pop("log_config")["root"]["level"] for where in served] == ["WARNING"] * 3
    assert served == [
        {"host": "127.0.0.1", "port": 9001, "log_level": "warning", "loop": "asyncio"},
        {"host": "127.0.0.1", "port": 9100, "log_level": "warning", "loop": "asyncio"},
        {"uds": "/tmp/r.sock", "log_level": "warning", "loop": "asyncio"},
    ]
    assert asked == ["auto", "rootless", "auto"]
    assert [settings.lab_workers for settings in built] == [2, 2, 2]
