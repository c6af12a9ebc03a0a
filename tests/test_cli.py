"""The `torchquiz` command: `questions check`, `questions schema`, and `serve` on a bad bank
and as a normal user."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner

import app.cli
from app.bank.report import editor_schemas
from app.cli import main
from app.core.config import get_settings
from tests.unprivileged import unprivileged_user, venv_under_tmp

PROJECT = Path(__file__).resolve().parents[1]
REAL_BANK = PROJECT / "questions"
BASE_QUESTION: dict[str, Any] = yaml.safe_load(
    (REAL_BANK / "birnn" / "output-shape-batch-first.yaml").read_text(encoding="utf-8")
)
TOPIC = {
    "title": "Recurrent layers",
    "category": "PyTorch",
    "estimated_minutes": 30,
    "summary": "How recurrent layers read sequences.",
    "modes": ["learn", "practice"],
    "notes": "Some notes.",
}


def write_bank(root: Path, questions: dict[str, Any]) -> Path:
    """A bank with topic `rnn`; `questions` maps file names to data (or raw text)."""
    (root / "rnn").mkdir(parents=True)
    (root / "rnn" / "topic.yaml").write_text(yaml.safe_dump(TOPIC), encoding="utf-8")
    for name, data in questions.items():
        text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
        (root / "rnn" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return root


def question(qid: str, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE_QUESTION)
    data.update(id=qid, **changes)
    return data


def broken_bank(root: Path) -> Path:
    """One valid question and two broken files."""
    return write_bank(
        root,
        {
            "fine": question("fine"),
            "bad-enum": question("bad-enum", difficulty="expert"),
            "bad-yaml": "id: bad-yaml\ntags: [unclosed\nprompt: x\n",
        },
    )


def real_question_files() -> list[Path]:
    return [p for p in REAL_BANK.glob("[!._]*/*.yaml") if p.name != "topic.yaml"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """get_settings is cached: read the environment of this test, and forget it afterwards."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- questions check ---


def test_questions_check_real_bank_says_ok_with_question_count(runner: CliRunner) -> None:
    result = runner.invoke(main, ["questions", "check", str(REAL_BANK)])

    assert result.exit_code == 0, result.output
    topics = {p.parent for p in real_question_files()}
    assert result.stdout.startswith("OK: ")
    assert f"{len(topics)} topic(s), {len(real_question_files())} questions." in result.stdout
    assert result.stderr == ""


def test_questions_check_run_checks_real_bank(runner: CliRunner) -> None:
    checked = sum(
        "check" in yaml.safe_load(p.read_text(encoding="utf-8")) for p in real_question_files()
    )

    result = runner.invoke(main, ["questions", "check", str(REAL_BANK), "--run-checks"])

    assert result.exit_code == 0, result.output
    assert f"{checked} checks hold against torch" in result.stdout
    studied = len(list(REAL_BANK.glob("*/bugs/*.yaml")) + list(REAL_BANK.glob("*/worked/*.yaml")))
    assert f"and so do {studied} spot-the-bug and worked-example files" in result.stdout


def test_questions_check_defaults_to_settings_questions_dir(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    bank = write_bank(tmp_path / "bank", {"only-one": question("only-one")})
    monkeypatch.setenv("TORCHQUIZ_QUESTIONS_DIR", str(bank))

    result = runner.invoke(main, ["questions", "check"])

    assert result.exit_code == 0, result.output
    assert "OK: 1 topic(s), 1 questions." in result.stdout


def test_questions_check_lists_every_broken_file(runner: CliRunner, tmp_path: Path) -> None:
    bank = broken_bank(tmp_path / "bank")

    result = runner.invoke(main, ["questions", "check", str(bank)])

    assert result.exit_code == 1
    assert "OK" not in result.stdout
    assert "2 problem(s)" in result.stderr
    assert "rnn/bad-enum.yaml: difficulty:" in result.stderr
    assert "rnn/bad-yaml.yaml: line " in result.stderr
    assert "rnn/fine.yaml" not in result.stderr


def test_questions_check_missing_folder(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["questions", "check", str(tmp_path / "nowhere")])

    assert result.exit_code == 1
    assert "does not exist" in result.stderr


def test_questions_check_run_checks_names_file_and_real_shape(
    runner: CliRunner, tmp_path: Path
) -> None:
    wrong = question("wrong-shape", answer=[4, 7, 3])
    wrong["check"]["expect"]["shapes"]["out"] = [4, 7, 3]  # torch really gives (4, 7, 6)
    bank = write_bank(tmp_path / "bank", {"right": question("right"), "wrong-shape": wrong})

    without = runner.invoke(main, ["questions", "check", str(bank)])
    result = runner.invoke(main, ["questions", "check", str(bank), "--run-checks"])

    assert without.exit_code == 0, without.output  # the file itself is valid
    assert result.exit_code == 1
    assert "1 problem(s)" in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "wrong-shape" in line]
    assert line.strip().startswith("rnn/wrong-shape.yaml: check:")
    assert "(4, 7, 3)" in line
    assert "(4, 7, 6)" in line
    assert "rnn/right.yaml" not in result.stderr


# --- questions schema ---


def test_questions_schema_prints_the_editor_schemas(runner: CliRunner) -> None:
    result = runner.invoke(main, ["questions", "schema"])

    assert result.exit_code == 0, result.output
    for text in editor_schemas().values():
        assert text in result.stdout
        json.loads(text)


def test_questions_schema_write_writes_the_editor_schemas(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "schema"
    monkeypatch.setattr(app.cli, "SCHEMA_DIR", target)  # never overwrite questions/_schema

    result = runner.invoke(main, ["questions", "schema", "--write"])

    assert result.exit_code == 0, result.output
    expected = editor_schemas()
    assert sorted(p.name for p in target.iterdir()) == sorted(expected)
    for name, text in expected.items():
        assert (target / name).read_text() == text
        assert f"wrote {target / name}" in result.stdout


# --- serve ---


def test_serve_refuses_to_start_on_an_invalid_bank(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    bank = broken_bank(tmp_path / "bank")
    instance = tmp_path / "instance"
    monkeypatch.setenv("TORCHQUIZ_QUESTIONS_DIR", str(bank))
    monkeypatch.setenv("TORCHQUIZ_INSTANCE_DIR", str(instance))
    started: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: started.append((args, kwargs)))

    result = runner.invoke(main, ["serve", "--port", str(free_port())])

    assert result.exit_code == 1
    assert started == []
    assert "running" not in result.stdout
    assert "2 problem(s)" in result.stderr
    assert "rnn/bad-enum.yaml" in result.stderr
    assert "rnn/bad-yaml.yaml" in result.stderr
    assert not instance.exists()  # no database was created or migrated


def test_serve_command_exits_1_without_listening(tmp_path: Path) -> None:
    """The installed console script, as an operator runs it."""
    bank = broken_bank(tmp_path / "bank")
    instance = tmp_path / "instance"
    port = free_port()
    env = {
        **os.environ,
        "TORCHQUIZ_QUESTIONS_DIR": str(bank),
        "TORCHQUIZ_INSTANCE_DIR": str(instance),
    }
    script = Path(sys.executable).parent / "torchquiz"

    done = subprocess.run(
        [str(script), "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert "rnn/bad-enum.yaml" in done.stderr
    assert "rnn/bad-yaml.yaml" in done.stderr
    assert "running" not in done.stdout
    assert not instance.exists()
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", port))


def test_serve_as_a_normal_user_serves_pages_at_once_and_runs_code_once_warm(
    tmp_path: Path,
) -> None:
    """No root needed: `serve` starts its runner (rootless here) without waiting for it, and
    the first page answers while the runner still warms up."""
    user = unprivileged_user()
    instance = Path(tempfile.mkdtemp(prefix="torchquiz-serve-", dir="/tmp"))
    os.chown(instance, user.uid, user.gid)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"PATH": os.environ["PATH"], "TORCHQUIZ_INSTANCE_DIR": str(instance)}
    try:
        with venv_under_tmp(user) as python, (tmp_path / "serve.log").open("w+") as log:
            started = time.monotonic()
            process = subprocess.Popen(
                [str(python), "-m", "app.cli", "serve", "--port", str(port)],
                env=env,
                cwd=PROJECT,
                stdout=log,
                stderr=subprocess.STDOUT,
                **user.popen_options(),  # type: ignore[arg-type]
            )
            try:
                first = first_answer(f"{url}/", process, timeout=30)
                page_seconds = time.monotonic() - started
                warming = httpx.post(f"{url}/api/v1/runs", json={"code": "x = 1"})
                ready = first_answer(f"{url}/readyz", process, timeout=180)
                ran = httpx.post(
                    f"{url}/api/v1/runs", json={"code": "import os\nuid = os.getuid()"}, timeout=60
                )
            finally:
                process.terminate()
                process.wait(timeout=30)
            log.seek(0)
            output = log.read()
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    assert "Not root" not in output
    assert first.status_code == 200 and "Bidirectional RNNs in PyTorch" in first.text
    assert page_seconds < 15, output
    assert warming.status_code == 503 and warming.json()["code"] == "runner_warming", output
    assert ready.json()["runner"]["mode"] == "rootless", ready.text
    assert ran.status_code == 200 and ran.json()["values"]["uid"] == user.uid, ran.text


def first_answer(url: str, process: subprocess.Popen[str], *, timeout: float) -> httpx.Response:
    """The first 200 from `url` (polled), while the server lives."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return response
        time.sleep(0.05)
    raise AssertionError(f"no 200 from {url} within {timeout:g} s")
