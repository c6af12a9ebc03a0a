"""Claims tied to answers: a question whose answer is a torch behaviour names the run that
proves it, so verify cannot miss a false answer that no check asserts.

The rule, by type (a question breaking it may be saved as a draft, never published; the
loader reports it for the shipped bank):

- tensor_shape: a shape is always torch's behaviour. The answer is claimed by the check
  (`check.answer_from` named in `check.expect`), or computed by it (variants).
- numeric with a `check` or `predict_then_run`: the same.
- single_choice and multiple_select with a `check` or `predict_then_run`: every correct option
  has an `outcome` (run against `check.code`, or the prompt's ```python block without a check).
- short_text with `predict_then_run`: a `check` that runs what the prompt shows.
- code: the hidden tests already tie the answer to torch.
"""

from __future__ import annotations

from app.bank.schema import AnyQuestion, ChoiceQuestion, Numeric, ShortText, TensorShape


def untied_claims(question: AnyQuestion) -> list[tuple[str, str]]:
    """(field path, why) for each answer that is a torch behaviour no run proves."""
    torch_behaviour = question.check is not None or question.predict_then_run
    if isinstance(question, TensorShape) or (isinstance(question, Numeric) and torch_behaviour):
        return _answer_untied(question)
    if isinstance(question, ChoiceQuestion) and torch_behaviour:
        return [
            (
                f"options[{index}].outcome",
                "a correct option of a question about what torch does needs an `outcome` "
                "(runs, shapes, values, or raises) that verify runs against the check",
            )
            for index, option in enumerate(question.options)
            if option.correct and option.outcome is None
        ]
    if isinstance(question, ShortText) and question.predict_then_run and question.check is None:
        return [("check", "a predict-then-run question needs a check that runs what it shows")]
    return []


def _answer_untied(question: TensorShape | Numeric) -> list[tuple[str, str]]:
    if question.variants is not None:
        return []  # the schema makes every variant's answer the run's own
    if question.check is None:
        return [("check", f"a {question.type} answer needs a check that claims it (answer_from)")]
    if not question.check.claims_answer():
        return [
            (
                "check.answer_from",
                "name the variable whose shape or value is the answer, and claim it in "
                "check.expect",
            )
        ]
    return []
