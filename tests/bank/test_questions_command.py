"""`torchquiz questions check --run-checks` on small banks: every check runs against torch."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from app.cli import main


def test_a_check_that_imports_numpy_passes_questions_check_run_checks(bank: Any) -> None:
    bank.topic()
    data = bank.base_question("numpy-check", answer=[4, 7, 6])
    data["check"] = {
        "code": "import numpy as np\nimport torch\nout = torch.zeros(4, 7, 6)\n"
        "steps = int(np.asarray(out.shape)[1])\n",
        "expect": {"shapes": {"out": [4, 7, 6]}, "values": {"steps": 7}},
        "answer_from": "out",
    }
    bank.question(data)

    result = CliRunner().invoke(main, ["questions", "check", str(bank.root), "--run-checks"])

    assert result.exit_code == 0, result.output
    assert "OK: 1 topic(s), 1 questions, 1 checks hold against torch." in result.stdout


def test_a_numpy_check_whose_claim_is_false_is_reported_not_a_crash(bank: Any) -> None:
    bank.topic()
    data = bank.base_question("numpy-check", type="numeric", answer={"value": 7})
    data["check"] = {
        "code": "import numpy as np\nsteps = int(np.int64(5))\n",
        "expect": {"values": {"steps": 7}},
        "answer_from": "steps",  # a numeric answer about torch is claimed by its check
    }
    bank.question(data)

    result = CliRunner().invoke(main, ["questions", "check", str(bank.root), "--run-checks"])

    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "rnn/numpy-check.yaml: check: claims steps == 7; really runs, steps=5" in result.stderr
