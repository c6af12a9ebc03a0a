"""`torchquiz questions verify --seeds N`: the new engine from the command line, printing each
failing claim beside what torch did, by file, field and seed."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from app.cli import main
from tests.bank.conftest import REAL_BANK
from tests.in_thread import run_call

BROKEN = Path(__file__).resolve().parent / "broken"


def bank_of(root: Path, *files: Path) -> Path:
    topic = root / "rnn"
    topic.mkdir(parents=True)
    shutil.copy(REAL_BANK / "birnn" / "topic.yaml", topic / "topic.yaml")
    for path in files:
        shutil.copy(path, topic / path.name)
    return root


def test_verify_prints_each_false_claim_beside_torch_naming_field_and_seed(
    runner_url: str, tmp_path: Path
) -> None:
    root = bank_of(tmp_path, BROKEN / "shape-off-by-one.yaml", BROKEN / "crash-one-seed.yaml")

    args = ["questions", "verify", str(root), "--runner", runner_url, "--seeds", "20"]
    result = run_call(lambda: CliRunner().invoke(main, args))

    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert (
        "  shape-off-by-one.yaml: check: claims h_n has shape (2, 8, 33); "
        "really runs, h_n=shape (2, 8, 32)"
    ) in lines
    crash = [line for line in lines if "crash-one-seed" in line]
    assert len(crash) == 1
    assert crash[0].startswith("  crash-one-seed.yaml: check (seed 4: batch=1, hidden=4")
    assert "really the check raises ValueError: proj_size has to be smaller" in crash[0]


def test_verify_counts_the_claims_of_a_sound_bank(runner_url: str, tmp_path: Path) -> None:
    root = bank_of(tmp_path, REAL_BANK / "birnn" / "gru-hn-ignores-batch-first.yaml")

    args = ["questions", "verify", str(root), "--runner", runner_url]
    result = run_call(lambda: CliRunner().invoke(main, args))

    assert result.exit_code == 0, result.output
    # render, key, three distractors, malformed answer, check, four outcomes
    assert "OK: 11 claims agree with torch" in result.stdout


def test_verify_refuses_a_seed_count_out_of_range(tmp_path: Path) -> None:
    args = ["questions", "verify", str(tmp_path), "--seeds", "0"]
    result = run_call(lambda: CliRunner().invoke(main, args))

    assert result.exit_code == 2
    assert "--seeds" in result.stderr
