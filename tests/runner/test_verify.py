"""`torchquiz questions verify` and the instructor API: every claim checked in the sandbox."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from starlette.testclient import TestClient

from app.accounts.service import create_user
from app.core.config import PROJECT_DIR
from app.main import create_app
from tests.accounts.support import PASSWORD, sign_in, sign_up
from tests.conftest import make_settings, until_ready
from tests.runner.conftest import Runner

SOURCE = PROJECT_DIR / "questions" / "birnn"


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, in its own process (as an instructor or CI runs it)."""
    command = [sys.executable, "-m", "app.cli", "questions", "verify", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_DIR, timeout=300)


def test_verify_runs_every_check_of_the_bank_in_the_sandbox(embedded: Runner) -> None:
    result = verify("--runner", embedded.url)
    assert result.returncode == 0, result.stdout + result.stderr
    # Every claim: rendering, grading, checks, outcomes, code tests and buggy solutions, and
    # 20 seeds of each parameterised question (app.bank.verify).
    assert "581 claims agree with torch" in result.stdout


def test_verify_reports_the_claim_beside_what_torch_did(embedded: Runner, tmp_path: Path) -> None:
    topic = tmp_path / "wrong"
    topic.mkdir()
    shutil.copy(SOURCE / "topic.yaml", topic / "topic.yaml")
    data = yaml.safe_load((SOURCE / "default-layout-runs-fine.yaml").read_text())
    data["check"]["expect"] = {"raises": "RuntimeError"}  # the classic wrong claim
    (topic / "default-layout-runs-fine.yaml").write_text(yaml.safe_dump(data))
    result = verify(str(tmp_path), "--runner", embedded.url)
    assert result.returncode == 1
    assert "claims it raises RuntimeError; really runs" in result.stderr
    assert "out=shape (5, 10, 8)" in result.stderr


def test_verify_names_the_variant_whose_run_gives_no_answer(
    embedded: Runner, tmp_path: Path
) -> None:
    topic = tmp_path / "wrong"
    topic.mkdir()
    shutil.copy(SOURCE / "topic.yaml", topic / "topic.yaml")
    name = "bilstm-hn-shape-random-sizes.yaml"
    data = yaml.safe_load((SOURCE / name).read_text())
    data["variants"]["params"]["layers"] = {"choices": [0, 1]}  # num_layers=0 is refused
    (topic / name).write_text(yaml.safe_dump(data))
    result = verify(str(tmp_path), "--runner", embedded.url)
    assert result.returncode == 1
    assert "layers=0" in result.stderr and "the check raises ValueError" in result.stderr
    assert "layers=1" not in result.stderr  # the variants that work are not reported


def test_trusted_results_are_cached_and_learner_runs_are_not(embedded: Runner) -> None:
    code = "import random\nx = random.random()"
    with embedded.client() as client:
        checks = [
            client.post("/v1/runs", json={"code": code, "kind": "check"}).json() for _ in range(2)
        ]
        snippets = [client.post("/v1/runs", json={"code": code}).json() for _ in range(2)]
    assert checks[0]["values"]["x"] == checks[1]["values"]["x"]
    assert snippets[0]["values"]["x"] != snippets[1]["values"]["x"]


def admin_app(embedded: Runner, tmp_path: Path) -> TestClient:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'a.sqlite3'}", tmp_path, runner_url=embedded.url
    )
    return TestClient(create_app(settings))


def test_instructor_verify_needs_a_site_administrator(embedded: Runner, tmp_path: Path) -> None:
    with admin_app(embedded, tmp_path) as client:
        assert client.post("/api/v1/admin/verify").status_code == 401
        sign_up(client, "learner@example.org")
        refused = client.post("/api/v1/admin/verify")
        assert refused.status_code == 403 and "administrator" in refused.json()["message"]


def test_instructor_verify_checks_the_whole_bank(embedded: Runner, tmp_path: Path) -> None:
    with admin_app(embedded, tmp_path) as client:
        until_ready(client)  # parameterised questions join the catalog once computed
        make_admin(client, "root@example.org")
        response = client.post("/api/v1/admin/verify")
    assert response.status_code == 200, response.text
    assert response.json() == {"checked": 581, "agree": True, "mismatches": []}


def make_admin(client: TestClient, email: str) -> None:
    """An administrator made as an operator makes one, then signed in through the API."""
    database = client.app.state.database  # type: ignore[attr-defined]
    with database.transaction() as db:
        create_user(db, email, PASSWORD, role="admin")
    sign_in(client, email)
