"""The sandbox works however the project is installed: as root or as a normal user (rootless),
with its venv anywhere, /tmp included (the service fixture runs from a venv under /tmp); and
a run's result says in words what happened."""

from __future__ import annotations

import glob
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from app.runner.embedded import listening
from tests.conftest import STARTED
from tests.runner.conftest import TOKEN, Runner, runner_as_user
from tests.unprivileged import unprivileged_user

AUTH = {"Authorization": f"Bearer {TOKEN}"}

LAZY_IMPORTS = """
import torch
import torch.nn.functional as F
print(torch.arange(6.0).reshape(2, 3))
probabilities = F.softmax(torch.tensor([1.0, 2.0, 3.0]), dim=0)
torch.save({"w": torch.ones(2, 2)}, "/tmp/weights.pt")
loaded = torch.load("/tmp/weights.pt")["w"]
import torch.distributions
sample = torch.distributions.Normal(0.0, 1.0).sample((4,))
import torch.fft
spectrum = torch.fft.rfft(torch.ones(8)).abs()
"""


def test_the_service_runs_rootless_as_an_unprivileged_user(service: Runner) -> None:
    assert service.mode == "rootless"
    result = service.run("import os\nuid = os.getuid()")
    assert result.values["uid"] == unprivileged_user().uid != 0


def test_modules_torch_imports_lazily_work_in_every_install(runner: Runner) -> None:
    result = runner.run(LAZY_IMPORTS, memory_mb=1024, cpu_seconds=5, wall_seconds=10)
    assert result.ok, result
    assert "tensor([[0., 1., 2.]," in result.stdout
    shapes = {t.name: t.shape for t in result.tensors}
    assert shapes == {"probabilities": [3], "loaded": [2, 2], "sample": [4], "spectrum": [5]}


def test_the_learners_code_is_a_real_file_that_tools_can_read(runner: Runner) -> None:
    result = runner.run(
        "import inspect, torch\n"
        "def double(x: torch.Tensor) -> torch.Tensor:\n"
        "    return x * 2\n"
        "source = inspect.getsource(double)\n"
        "scripted = torch.jit.script(double)\n"
        "out = scripted(torch.ones(3))\n"
        "name = __file__\n",
        cpu_seconds=5,
        wall_seconds=10,
    )
    assert result.ok, result
    assert result.values["source"].startswith("def double(x: torch.Tensor)")
    assert result.values["name"].endswith(".py")
    assert [t.shape for t in result.tensors if t.name == "out"] == [[3]]


def test_runners_leave_no_jail_folder_in_the_hosts_tmp(embedded: Runner, service: Runner) -> None:
    for runner in (embedded, service):
        assert runner.run("print(1)").ok
    deadline = time.monotonic() + 2  # a worker being replaced holds one for a moment
    while jail_folders_since(STARTED) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not jail_folders_since(STARTED)


def jail_folders_since(moment: float) -> list[str]:
    """Jail folders in the host's /tmp made since `moment` (older ones are not this run's)."""
    return [p for p in glob.glob("/tmp/torchquiz-jail-*") if os.stat(p).st_mtime >= moment]


def test_a_runner_that_cannot_build_its_sandbox_says_why_and_how_to_fix_it(
    users_python: Path,
) -> None:
    # An unprivileged user asking for the privileged sandbox: the kernel refuses it.
    with runner_as_user(users_python, "--sandbox", "privileged", log=subprocess.PIPE) as (
        url,
        process,
    ):
        wait_until_answering(url, process)
        health = httpx.get(f"{url}/healthz").json()
        refused = httpx.post(f"{url}/v1/runs", json={"code": "x = 1"}, headers=AUTH)
        process.terminate()
        log = process.communicate(timeout=20)[1].decode()
    assert (health["state"], health["mode"]) == ("off", None)
    reason = health["reason"]
    assert reason.startswith("Running code is off:") and "To turn it on:" in reason
    assert "Operation not permitted" in reason, "the kernel's own words"
    assert refused.status_code == 503 and refused.json() == {
        "status": 503, "code": "runner_off", "message": reason, "field": None
    }  # fmt: skip
    assert reason in log, "said in the log too"


def wait_until_answering(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not listening(url):
        assert process.poll() is None and time.monotonic() < deadline, "the runner did not start"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("code", "exit_code", "ok"),
    [
        ("import sys\nsys.exit(3)", 3, False),
        ("import sys\nsys.exit(0)", 0, True),
        ("import sys\nsys.exit()", 0, True),
        ("raise SystemExit('bye')", 1, False),
    ],
)
def test_only_exit_code_zero_counts_as_finished(
    runner: Runner, code: str, exit_code: int, ok: bool
) -> None:
    result = runner.run(code)
    assert (result.exit_code, result.ok) == (exit_code, ok), result
    assert result.limit is None


def test_input_gets_end_of_file_and_the_result_says_why(runner: Runner) -> None:
    result = runner.run("name = input('your name? ')")
    assert result.exception is not None and result.exception.type == "EOFError"
    assert result.exception.note is not None
    assert "no keyboard input" in result.exception.note
