"""The real bank's answers and wording, where an audit against torch 2.13 found them loose:
what each question accepts, what its quick check and notes say, and how hard it is labelled."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from app.bank.grading import grade
from app.bank.loader import Bank, load_bank
from app.bank.schema import AnyQuestion, ChoiceQuestion, Topic
from app.core.errors import AnswerFormatError
from app.core.markdown import python_blocks

REAL_BANK = Path(__file__).resolve().parents[2] / "questions"


@functools.cache
def bank() -> Bank:
    """Loaded on first use: a bank that does not load fails test_bank_content, not collection."""
    return load_bank(REAL_BANK)


def questions() -> dict[str, AnyQuestion]:
    return {q.question.id: q.question for t in bank().topics.values() for q in t.questions}


def question(qid: str) -> AnyQuestion:
    return questions()[qid]


def notes() -> str:
    topic: Topic = bank().topics["birnn"].topic
    return topic.notes


def texts(value: Any) -> list[str]:
    """Every string in a question file, wherever it is."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in texts(item)]
    return []


def every_bank_text() -> list[tuple[str, str]]:
    return [
        (path.name, text)
        for path in sorted(REAL_BANK.glob("[!._]*/*.yaml"))
        for text in texts(yaml.safe_load(path.read_text(encoding="utf-8")))
    ]


def is_right(qid: str, raw: Any) -> bool:
    return grade(question(qid), raw).correct


# --- answers ---


@pytest.mark.parametrize(
    "raw",
    ["h_n[-2]", "h_n[2]", "h_n[-2, :]", "h_n[2, :]", "h_n[-2,:]", "h_n[-2][:]", "h_n[2, ...]"],
)
def test_the_top_layer_forward_state_accepts_every_index_that_selects_it(raw: str) -> None:
    assert is_right("hn-top-layer-forward-final", raw)


@pytest.mark.parametrize("raw", ["H_N[-2]", "h_n[-1]", "h_n[1]", "h_n[-2:]", "out[:, -1, :16]"])
def test_the_top_layer_forward_state_refuses_other_tensors_rows_and_shapes(raw: str) -> None:
    assert not is_right("hn-top-layer-forward-final", raw)


def test_the_top_layer_forward_state_calls_unreadable_text_a_format_error() -> None:
    with pytest.raises(AnswerFormatError):
        grade(question("hn-top-layer-forward-final"), "h_n[-2")


def test_the_top_layer_forward_index_matches_what_torch_selects() -> None:
    """The reference and the index shape the question declares are the real h_n's."""
    q = question("hn-top-layer-forward-final")
    assert q.type == "short_text" and q.answer.index_of is not None
    namespace: dict[str, Any] = {}
    exec(python_blocks(q.prompt)[0], namespace)  # the bank's own code
    h_n, out = namespace["h_n"], namespace["out"]
    assert list(h_n.shape) == q.answer.index_of.shape
    selected = eval(q.answer.accepted[0], {"h_n": h_n})  # the bank's own reference
    assert torch.equal(selected, out[:, -1, :16])


@pytest.mark.parametrize(("raw", "right"), [("1.9994", True), ("1.99935", True), ("1.9993", True)])
def test_the_classifier_ratio_accepts_the_ratio_to_four_decimals(raw: str, right: bool) -> None:
    assert is_right("birnn-vs-rnn-classifier-ratio", raw) is right


@pytest.mark.parametrize("raw", ["1.9999", "1.9995", "1.9997", "2", "2.0000", "1.9990"])
def test_the_classifier_ratio_refuses_answers_that_round_to_exactly_double(raw: str) -> None:
    """At three decimals, anything from 1.9995 up reads 2.000: the misconception itself."""
    assert not is_right("birnn-vs-rnn-classifier-ratio", raw)


def test_the_unsorted_lengths_answer_must_be_python() -> None:
    qid = "pack-unsorted-lengths-error"
    assert is_right(qid, "enforce_sorted=False")
    assert is_right(qid, "enforce_sorted = False")
    assert not is_right(qid, "enforce_sorted = false")
    assert not is_right(qid, "ENFORCE_SORTED=FALSE")
    q = question(qid)
    assert q.type == "short_text"
    for accepted in q.answer.accepted:  # each one is a real keyword argument, False
        call = ast.parse(f"f({accepted})", mode="eval").body
        assert isinstance(call, ast.Call)
        (keyword,) = call.keywords
        assert keyword.arg == "enforce_sorted"
        assert ast.literal_eval(keyword.value) is False


@pytest.mark.parametrize(
    "raw", ["weight_ih_l0_reverse", "'weight_ih_l0_reverse'", '"weight_ih_l0_reverse"']
)
def test_the_reverse_weight_name_may_be_quoted_either_way(raw: str) -> None:
    assert is_right("reverse-weight-param-name", raw)


# --- wording ---


def test_the_streaming_quick_check_gives_24_in_every_draw() -> None:
    """The quick check's expression, run on the prompt's code in real torch, many times."""
    q = question("streaming-rerun-unchanged-count")
    expression = re.findall(r"`([^`]+)`", q.quick_check)[0]
    setup = python_blocks(q.prompt)[0]
    counts = set()
    for seed in range(200):
        torch.manual_seed(seed)
        namespace: dict[str, Any] = {}
        exec(setup, namespace)  # the bank's own code
        counts.add(int(eval(expression, namespace)))  # the bank's own expression
    assert counts == {24}


def test_the_variable_length_pipeline_keeps_max_len_when_every_sentence_is_shorter() -> None:
    """The right option's code, run in real torch on a batch padded past its longest sentence,
    gives `out` and `feat` the shapes the prompt asks for."""
    q = question("variable-length-bilstm-pipeline")
    assert isinstance(q, ChoiceQuestion)
    (right,) = [o for o in q.options if o.correct]
    code = "\n".join(re.findall(r"`([^`]+)`", right.text)).replace("self.lstm", "lstm")
    batch, max_len, emb_dim, hidden = 3, 7, 6, 4
    namespace: dict[str, Any] = {
        "torch": torch,
        "lstm": torch.nn.LSTM(emb_dim, hidden, batch_first=True, bidirectional=True),
        "x": torch.randn(batch, max_len, emb_dim),
        "lengths": [3, 5, 2],
    }
    exec("from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence", namespace)
    exec(code, namespace)  # the bank's own code
    assert "(batch, max_len, 2 * hidden)" in q.prompt
    assert list(namespace["out"].shape) == [batch, max_len, 2 * hidden]
    assert list(namespace["feat"].shape) == [batch, 2 * hidden]


def test_the_causal_lm_prompt_says_the_loss_is_low_on_held_out_text() -> None:
    """ "Freshly sampled text" could be the model's own samples; held-out text cannot."""
    prompt = question("causal-lm-bidirectional-leak").prompt
    assert "freshly sampled" not in prompt
    assert "held-out" in prompt


def test_the_classifier_parameter_count_reads_h_n_not_the_last_step() -> None:
    """Elsewhere the bank calls `out[:, -1]` a trap as a sequence summary."""
    prompt = question("birnn-classifier-param-count").prompt
    assert "out[:, -1" not in prompt
    assert "torch.cat([h_n[-2], h_n[-1]], dim=1)" in prompt


def test_parameter_counts_speak_of_gate_blocks_not_of_three_or_four_gates() -> None:
    """A GRU has two gates and a candidate, an LSTM three gates and a candidate: the 3 and 4
    are blocks of rows in the weights."""
    loose = re.compile(r"\b(three|four|3|4) gates\b", re.IGNORECASE)
    assert [(name, m[0]) for name, text in every_bank_text() for m in loose.finditer(text)] == []


def test_no_question_is_tagged_h_n_beside_hidden_state() -> None:
    tagged = [q.id for q in questions().values() if "h-n" in q.tags]
    assert tagged == []


def test_the_notes_name_the_layout_wherever_they_index_out_by_position() -> None:
    """`out[:, -1, :H]` is the last step only with batch_first=True."""
    indexed = re.compile(r"out\[[^\]]*,")
    silent = [p for p in notes().split("\n\n") if indexed.search(p) and "batch_first" not in p]
    assert silent == []


def test_the_notes_say_which_inputs_raise_and_no_text_says_only_the_last_dimension_is_checked() -> (
    None
):
    assert "1-D or 4-D input raises a `ValueError`" in notes()
    only = re.compile(r"(only checks|checks only) that the last dimension")
    assert [name for name, text in every_bank_text() if only.search(text)] == []


def test_the_notes_say_both_halves_include_the_current_step() -> None:
    prose = " ".join(notes().split())
    assert "Both halves include step `t` itself" in prose
    assert "the first half describes the past" not in prose


def test_torch_facts_the_notes_state() -> None:
    torch.manual_seed(0)
    hidden = 4
    gru = torch.nn.GRU(3, hidden, batch_first=True, bidirectional=True)
    for rank in (1, 4):
        with pytest.raises(ValueError, match="Expected input to be 2D or 3D"):
            gru(torch.randn(*[2] * (rank - 1), 3))
    out, _ = gru(torch.randn(5, 2, 3))  # the other layout runs
    assert list(out.shape) == [5, 2, 2 * hidden]
    with pytest.raises(RuntimeError, match="Expected hidden size"):
        gru(torch.randn(5, 2, 3), torch.zeros(2, 2, hidden))  # ...unless h_0 gives it away

    x, t = torch.randn(1, 6, 3), 2
    out, _ = gru(x)

    def halves_changed_by(step: int) -> tuple[bool, bool]:
        changed = x.clone()
        changed[0, step] += 1.0
        new, _ = gru(changed)
        return (
            not torch.equal(new[0, t, :hidden], out[0, t, :hidden]),
            not torch.equal(new[0, t, hidden:], out[0, t, hidden:]),
        )

    assert halves_changed_by(t - 1) == (True, False)  # the past: forward half only
    assert halves_changed_by(t) == (True, True)  # step t: both halves
    assert halves_changed_by(t + 1) == (False, True)  # the future: backward half only

    default = torch.nn.GRU(3, hidden, bidirectional=True)
    out, h_n = default(torch.randn(6, 2, 3))
    assert torch.allclose(h_n[-2], out[-1, :, :hidden])
    assert torch.allclose(h_n[-1], out[0, :, hidden:])


# --- difficulty ---


@pytest.mark.parametrize(
    ("qid", "difficulty"),
    [
        ("bilstm-initial-state-builder", "medium"),
        ("birnn-classifier-param-count", "medium"),
        ("rnn-nonlinearity-argument", "easy"),
        ("hn-middle-layer-backward-index", "medium"),
    ],
)
def test_recalibrated_questions_carry_their_new_difficulty(qid: str, difficulty: str) -> None:
    assert question(qid).difficulty == difficulty
