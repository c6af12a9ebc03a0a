"""Helpers for tests that build small question banks on disk."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.bank.loader import Bank, BankInvalidError, Problem, format_report, load_bank

REAL_BANK = Path(__file__).resolve().parents[2] / "questions"
# A valid tensor_shape question with a check; tests copy it and break one thing at a time.
BASE_QUESTION_FILE = REAL_BANK / "birnn" / "output-shape-batch-first.yaml"
_BASE_QUESTION: dict[str, Any] = yaml.safe_load(BASE_QUESTION_FILE.read_text(encoding="utf-8"))

TOPIC: dict[str, Any] = {
    "title": "Recurrent layers",
    "category": "PyTorch",
    "estimated_minutes": 30,
    "summary": "How recurrent layers read sequences.",
    "modes": ["learn", "practice"],
    "notes": "## Notes\n\nSome notes.",
}


def _base_question(qid: str = "output-shape-batch-first", **changes: Any) -> dict[str, Any]:
    """A fresh copy of the valid base question with `id` set and top-level keys changed."""
    data = copy.deepcopy(_BASE_QUESTION)
    data["id"] = qid
    data.update(changes)
    return data


def _choice_question(qtype: str, qid: str, correct: list[bool]) -> dict[str, Any]:
    """The base question turned into a choice question with the given correct flags."""
    data = _base_question(qid, type=qtype)
    # Options that claim nothing about torch: no check, nothing to predict then run.
    del data["answer"], data["check"], data["predict_then_run"]
    data["options"] = [
        {"text": f"Option {i}", "correct": flag, "feedback": f"Because {i}."}
        for i, flag in enumerate(correct)
    ]
    return data


class BankDir:
    """A question bank folder under tmp_path, written file by file.

    Test modules reach the helpers through the `bank` fixture (a non-package conftest cannot
    be imported by name without clashing with tests/conftest.py)."""

    base_question = staticmethod(_base_question)
    choice_question = staticmethod(_choice_question)

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def topic(self, slug: str = "rnn", data: dict[str, Any] | None = None) -> Path:
        folder = self.root / slug
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "topic.yaml"
        path.write_text(yaml.safe_dump(data or TOPIC, sort_keys=False), encoding="utf-8")
        return path

    def question(
        self, data: Any, topic: str = "rnn", name: str | None = None, *, sort_keys: bool = False
    ) -> Path:
        """Write `data` as YAML to `<topic>/<name or data['id']>.yaml`."""
        file_name = name or data["id"]
        return self.text(
            f"{topic}/{file_name}.yaml",
            yaml.safe_dump(data, sort_keys=sort_keys, allow_unicode=True),
        )

    def text(self, relpath: str, text: str) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def bytes(self, relpath: str, data: bytes) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def load(self) -> Bank:
        return load_bank(self.root)

    def problems(self) -> list[Problem]:
        """The problems of an invalid bank (fails the test if the bank loads)."""
        with pytest.raises(BankInvalidError) as info:
            load_bank(self.root)
        assert str(info.value) == format_report(info.value.problems)
        return info.value.problems


@pytest.fixture
def bank(tmp_path: Path) -> BankDir:
    """An empty bank folder; most tests add a topic and a few questions."""
    return BankDir(tmp_path / "bank")
