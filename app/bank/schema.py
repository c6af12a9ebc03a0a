"""The one schema for question-bank files: topics and questions, as authors write them."""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.bank.indexing import MAX_INDEXED_ELEMENTS, IndexSyntaxError, parse_index, select
from app.core.bounds import SLUG_LENGTH
from app.core.markdown import python_blocks

Slug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=SLUG_LENGTH)
]
Markdown = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Difficulty(StrEnum):
    easy = "easy"
    medium = "medium"
    hard = "hard"


DIFFICULTY_ORDER = {Difficulty.easy: 0, Difficulty.medium: 1, Difficulty.hard: 2}


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a file must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LearningMode(StrEnum):
    learn = "learn"
    practice = "practice"
    test = "test"
    review = "review"
    lab = "lab"  # the experiment lab (app.lab): real training runs on a toy data set
    # app.study: cards from the notes, a snippet's one defective line, steps left to the learner
    flashcards = "flashcards"
    spot_the_bug = "spot_the_bug"
    worked_examples = "worked_examples"


class Topic(Strict):
    """`topic.yaml`: what the topic page shows before any question."""

    title: str = Field(min_length=1, max_length=120)
    category: str = Field(min_length=1, max_length=60)
    estimated_minutes: int = Field(gt=0, le=600)
    summary: Markdown
    modes: list[LearningMode] = Field(min_length=1)
    notes: Markdown = Field(description="Concept notes in Markdown, shown in Learn mode.")
    flashcards: list[Flashcard] = Field(
        default=[], description="Cards drawn from the notes, each naming its `##` section."
    )


# --- the `check` block: a claim about PyTorch that the suite runs against real torch ---


class Expectation(Strict):
    """What the check's snippet must show. Give exactly one kind of expectation."""

    shapes: dict[Identifier, list[int]] | None = Field(
        default=None, description="Variable name -> the tensor shape it must have."
    )
    values: dict[Identifier, float | int | bool | str] | None = Field(
        default=None, description="Variable name -> the value it must equal."
    )
    raises: Identifier | None = Field(
        default=None, description="Name of the exception type the snippet must raise."
    )
    message_contains: str | None = Field(
        default=None, description="With `raises`: text the exception message must contain."
    )
    runs: Literal[True] | None = Field(
        default=None, description="The snippet must run to the end without an exception."
    )
    warns: Identifier | None = Field(
        default=None,
        description="Name of a warning category the snippet must emit (with runs/shapes/values).",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Expectation:
        kinds = [k for k in ("shapes", "values", "raises", "runs") if getattr(self, k) is not None]
        if len(kinds) == 0:
            raise ValueError("give one of shapes, values, raises or runs")
        if "raises" in kinds and (len(kinds) > 1 or self.warns is not None):
            raise ValueError("`raises` cannot be combined with shapes, values, runs or warns")
        if self.message_contains is not None and self.raises is None:
            raise ValueError("message_contains needs raises")
        return self


class Check(Strict):
    code: str = Field(min_length=1, description="Python that imports torch itself.")
    expect: Expectation
    answer_from: Identifier | None = Field(
        default=None,
        description=(
            "For tensor_shape and numeric questions: the variable whose shape or value "
            "must equal the question's answer, so the answer itself is checked."
        ),
    )

    @model_validator(mode="after")
    def _answer_var_is_expected(self) -> Check:
        # With `runs: true` the variable's shape or value is the answer of each variant.
        if self.answer_from and not self.claims_answer() and self.expect.runs is not True:
            raise ValueError(f"answer_from '{self.answer_from}' is not named in expect")
        return self

    def claims_answer(self) -> bool:
        """Whether `expect` names the answer variable (a fixed claim, checked by the suite)."""
        named = {**(self.expect.shapes or {}), **(self.expect.values or {})}
        return self.answer_from is not None and self.answer_from in named


# --- variants: random sizes, with the answer computed by real torch ---

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class Param(Strict):
    """A random integer: one of `choices`, or any from `min` to `max` (both included)."""

    choices: list[int] | None = Field(default=None, min_length=2)
    min: int | None = None
    max: int | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Param:
        ranged = self.min is not None and self.max is not None
        if (self.choices is None) == (not ranged) or (self.choices and self.min is not None):
            raise ValueError("give either choices, or both min and max")
        if ranged and self.min >= self.max:  # type: ignore[operator]
            raise ValueError("min must be below max")
        return self


class Variants(Strict):
    count: int = Field(default=12, ge=2, le=64, description="How many variants (seeds).")
    params: dict[Identifier, Param] = Field(
        min_length=1, description="{{name}} in any text of the question becomes the value."
    )
    tolerance: float = Field(
        default=0.0, ge=0, description="numeric questions: the computed answer's tolerance."
    )


# --- questions ---


class Option(Strict):
    text: Markdown
    correct: bool = False
    feedback: Markdown = Field(description="Why choosing this option is right or wrong.")
    outcome: Expectation | None = Field(
        default=None,
        description=(
            "What the option says torch does, run by verify against the question's "
            "`check.code` (without a check: the prompt's first ```python block). A correct "
            "option's outcome must hold; a distractor's must not."
        ),
    )


class WrongAnswer(Strict):
    """A wrong answer the author expects (a distractor of a free-answer question)."""

    answer: str = Field(min_length=1, max_length=500, description="As a learner would type it.")
    feedback: Markdown = Field(description="Why it is wrong.")


class BuggySolution(Strict):
    """A plausible wrong solution of a code question: verify proves a hidden test catches it."""

    code: str = Field(min_length=1, max_length=8192)
    why: Markdown = Field(description="The bug, in words.")


class SolutionStep(Strict):
    title: str = Field(min_length=1, max_length=120)
    body: Markdown


class QuestionBase(Strict):
    id: Slug = Field(description="Stable id; equals the file name without .yaml.")
    difficulty: Difficulty
    tags: list[Slug] = Field(min_length=1)
    prompt: Markdown
    hints: list[Markdown] = Field(min_length=1)
    solution_steps: list[SolutionStep] = Field(min_length=1)
    final_answer: Markdown
    quick_check: Markdown
    common_mistakes: list[Markdown] = Field(min_length=1)
    check: Check | None = None
    predict_then_run: bool = Field(
        default=False,
        description="After answering, show what the prompt's code really does, run in the sandbox.",
    )
    variants: Variants | None = Field(
        default=None,
        description=(
            "Random sizes. Each variant's answer is the shape or value of check.answer_from, "
            "computed by running check.code with the variant's values; {{answer}} shows it."
        ),
    )
    verify_seeds: list[Annotated[int, Field(ge=0)]] = Field(
        default=[],
        max_length=20,
        description="With variants: seeds verify always tries, beside its own.",
    )

    @model_validator(mode="after")
    def _code_to_run(self) -> QuestionBase:
        if self.predict_then_run and not python_blocks(self.prompt):
            raise ValueError("predict_then_run needs a ```python block in the prompt to run")
        return self

    @model_validator(mode="after")
    def _answer_source(self) -> QuestionBase:
        """An answer is written in the file and claimed by the check, or (with variants)
        computed from the check's run."""
        check, given = self.check, getattr(self, "answer", None)
        if self.variants is None:
            if self.verify_seeds:
                raise ValueError("verify_seeds are for questions with variants")
            if check and check.answer_from and not check.claims_answer():
                raise ValueError("check.answer_from without a claim in expect needs variants")
            if given is None and "answer" in type(self).model_fields:
                raise ValueError("answer is required")
            return self
        if self.type not in ("tensor_shape", "numeric"):  # type: ignore[attr-defined]
            raise ValueError("variants are for tensor_shape and numeric questions")
        if check is None or check.answer_from is None or check.expect.runs is not True:
            raise ValueError("variants need a check with `expect: {runs: true}` and answer_from")
        if given is not None:
            raise ValueError("with variants, the answer is computed: remove `answer`")
        unknown = placeholders(self) - {*self.variants.params, "answer"}
        if unknown:
            raise ValueError(f"unknown placeholders: {', '.join(sorted(unknown))}")
        return self


# "option B", "options A and C": a letter that shuffling would make point at another option.
_LETTER_REFERENCE = re.compile(r"\boptions? [A-G]\b")


class ChoiceQuestion(QuestionBase):
    # At most 7, so every option has a letter shortcut (A-G) that no other shortcut uses.
    options: list[Option] = Field(min_length=2, max_length=7)
    shuffle: bool = Field(
        default=True,
        description=(
            "Show the options in an order of each attempt's own, so the key's place gives "
            "nothing away. false pins the file's order (an 'all of the above' option)."
        ),
    )

    def correct_indexes(self) -> frozenset[int]:
        return frozenset(i for i, option in enumerate(self.options) if option.correct)

    @field_validator("options")
    @classmethod
    def _distinct_options(cls, options: list[Option]) -> list[Option]:
        # Two options a learner cannot tell apart make one of them a trap, not a question.
        first: dict[str, int] = {}
        for index, option in enumerate(options):
            key = " ".join(option.text.casefold().split())
            if key in first:
                raise ValueError(
                    f"options[{first[key]}] and options[{index}] have the same text: "
                    f"{option.text[:60]!r}"
                )
            first[key] = index
        return options

    @model_validator(mode="after")
    def _outcomes_have_code(self) -> ChoiceQuestion:
        outcomes = any(o.outcome is not None for o in self.options)
        if outcomes and self.check is None and not python_blocks(self.prompt):
            raise ValueError(
                "options' outcomes run against check.code or the prompt's ```python block: give one"
            )
        return self

    @model_validator(mode="after")
    def _no_letters_when_shuffled(self) -> ChoiceQuestion:
        texts = [o.text for o in self.options] + [o.feedback for o in self.options]
        texts += [s.body for s in self.solution_steps] + [self.final_answer, self.quick_check]
        if self.shuffle and any(_LETTER_REFERENCE.search(t) for t in texts):
            raise ValueError(
                "names an option by its letter, which shuffling changes: "
                "name it by its content, or pin the order with `shuffle: false`"
            )
        return self


class SingleChoice(ChoiceQuestion):
    type: Literal["single_choice"]

    @field_validator("options")
    @classmethod
    def _exactly_one_correct(cls, options: list[Option]) -> list[Option]:
        if sum(o.correct for o in options) != 1:
            raise ValueError("a single_choice question needs exactly one correct option")
        return options


class MultipleSelect(ChoiceQuestion):
    """Partial credit: right picks / right options - wrong picks / wrong options, at least 0."""

    type: Literal["multiple_select"]

    @field_validator("options")
    @classmethod
    def _some_correct(cls, options: list[Option]) -> list[Option]:
        if not any(o.correct for o in options):
            raise ValueError("a multiple_select question needs at least one correct option")
        return options


class NumericAnswer(Strict):
    value: float
    tolerance: float = Field(default=0.0, ge=0, description="Absolute tolerance.")


class FreeAnswerQuestion(QuestionBase):
    """A question answered by typing: its expected wrong answers can be declared."""

    wrong_answers: list[WrongAnswer] = Field(
        default=[],
        max_length=10,
        description="Wrong answers learners give, each with feedback; verify grades each below 1.",
    )


class Numeric(FreeAnswerQuestion):
    type: Literal["numeric"]
    answer: NumericAnswer | None = Field(default=None, description="Omit with variants.")
    unit: str | None = Field(default=None, max_length=30)

    def expected(self) -> NumericAnswer:
        if self.answer is None:
            raise LookupError(f"{self.id}: a template; only its variants have answers")
        return self.answer


class TensorShape(FreeAnswerQuestion):
    type: Literal["tensor_shape"]
    answer: list[Annotated[int, Field(ge=0)]] | None = Field(
        default=None, description="Omit with variants."
    )

    def expected(self) -> list[int]:
        if self.answer is None:
            raise LookupError(f"{self.id}: a template; only its variants have answers")
        return self.answer


class IndexOf(Strict):
    """The tensor an index answer selects from: its name (matched exactly) and its shape."""

    tensor: Identifier
    shape: list[Annotated[int, Field(ge=0)]] = Field(min_length=1, max_length=8)

    @field_validator("shape")
    @classmethod
    def _small(cls, shape: list[int]) -> list[int]:
        if math.prod(shape) > MAX_INDEXED_ELEMENTS:
            raise ValueError(
                f"index answers are for tensors of at most {MAX_INDEXED_ELEMENTS} elements"
            )
        return shape


class TextAnswer(Strict):
    accepted: list[str] = Field(min_length=1)
    case_sensitive: bool = False
    index_of: IndexOf | None = Field(
        default=None,
        description=(
            "Grade answers as indexing expressions on this tensor, such as `h_n[-2, :]`: an "
            "answer is right when it selects the same elements, in the same shape, as one of "
            "`accepted`. Only the name, integers, slices and `...` are allowed; the name is "
            "matched exactly."
        ),
    )

    @model_validator(mode="after")
    def _index_answers(self) -> TextAnswer:
        index = self.index_of
        if index is None:
            return self
        # True only: a stored version's data holds the default too, and must load again.
        if self.case_sensitive:
            raise ValueError(
                "with index_of the tensor's name is matched exactly: drop case_sensitive"
            )
        for text in self.accepted:
            try:
                expression = parse_index(text)
            except IndexSyntaxError as exc:
                raise ValueError(f"accepted {text!r} is not an index expression: {exc}") from None
            if expression.name != index.tensor:
                raise ValueError(f"accepted {text!r} does not index {index.tensor}")
            if select(expression, tuple(index.shape)) is None:
                raise ValueError(f"accepted {text!r} is out of range for shape {index.shape}")
        return self


class ShortText(FreeAnswerQuestion):
    type: Literal["short_text"]
    answer: TextAnswer


class CodeTest(Strict):
    """A test: code run after the learner's, in its namespace; judged outside the sandbox."""

    name: str = Field(min_length=1, max_length=120)
    code: str = Field(min_length=1, max_length=8192)
    expect: Expectation


class CodeQuestion(QuestionBase):
    """The learner writes code; Run tries it on the visible samples, Submit grades it by the
    hidden tests in the sandbox. Partial credit: the share of hidden tests passed. A syntax
    error is reported and does not count as an attempt."""

    type: Literal["code"]
    starter: str = Field(min_length=1, description="The code the editor starts with.")
    samples: list[CodeTest] = Field(
        min_length=1,
        max_length=5,
        description=(
            "Visible sample tests: Run tries the learner's code on them (no attempt) and shows "
            "each one's code, what it expected and what came out."
        ),
    )
    tests: list[CodeTest] = Field(min_length=1, max_length=20, description="The hidden tests.")
    solution_code: str = Field(
        min_length=1, description="A reference answer; passes every sample and every test."
    )
    buggy_solutions: list[BuggySolution] = Field(
        default=[],
        max_length=10,
        description="Plausible wrong solutions; verify proves each fails a hidden test.",
    )

    @model_validator(mode="after")
    def _distinct_test_names(self) -> CodeQuestion:
        # A run's report names each test, and a report says which test failed by its name.
        names = [test.name for test in [*self.samples, *self.tests]]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"samples and tests need distinct names; repeated: {repeated}")
        return self


AnyQuestion = SingleChoice | MultipleSelect | Numeric | TensorShape | ShortText | CodeQuestion
QuestionAdapter: TypeAdapter[AnyQuestion] = TypeAdapter(
    Annotated[AnyQuestion, Field(discriminator="type")]
)


def placeholders(question: BaseModel) -> set[str]:
    """Every {{name}} in the question's texts."""
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, str):
            found.update(PLACEHOLDER.findall(value))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(question.model_dump(exclude={"variants"}))
    return found


QUESTION_TYPE_NAMES: frozenset[str] = frozenset(
    get_args(cls.model_fields["type"].annotation)[0] for cls in get_args(AnyQuestion)
)


# --- study modes (app.study): flashcards, spot the bug, worked examples with faded steps ---

_NOTE_HEADING = re.compile(r"^## +(.+?)\s*$", re.MULTILINE)


def note_sections(notes: str) -> list[str]:
    """The `##` headings of concept notes, as written (a flashcard names one of them)."""
    return _NOTE_HEADING.findall(notes)


class Flashcard(Strict):
    front: Markdown = Field(description="The prompt: a question or a term.")
    back: Markdown = Field(description="The answer, in a few lines.")
    note: str = Field(min_length=1, description="The `##` heading of the notes it comes from.")


Topic.model_rebuild()  # its `flashcards` field names Flashcard, defined above


def _lines(code: str) -> list[str]:
    return code.rstrip("\n").split("\n")


class BugHunt(Strict):
    """`<topic>/bugs/<id>.yaml`: a snippet with exactly one defective line. `fixed_code` is the
    snippet with that line (and only it) corrected; the hidden tests fail on the snippet and
    pass on the fix, which the suite proves with real torch (app.study.checks)."""

    id: Slug = Field(description="Stable id; equals the file name without .yaml.")
    title: str = Field(min_length=1, max_length=120)
    difficulty: Difficulty
    task: Markdown = Field(description="What the snippet is meant to do.")
    code: str = Field(min_length=1, max_length=4000, description="The snippet, bug included.")
    bug_line: int = Field(ge=1, description="The defective line's number, from 1.")
    explanation: Markdown = Field(description="Why the line is wrong, and the fix.")
    hints: list[Markdown] = Field(min_length=1)
    tests: list[CodeTest] = Field(min_length=1, max_length=20)
    fixed_code: str = Field(min_length=1, max_length=4000)

    @field_validator("bug_line")
    @classmethod
    def _line_in_code(cls, line: int, info: ValidationInfo) -> int:
        count = len(_lines(info.data.get("code", "")))
        if "code" in info.data and line > count:
            raise ValueError(f"the code has {count} lines; bug_line {line} is past its end")
        return line

    @field_validator("fixed_code")
    @classmethod
    def _one_line_fixed(cls, fixed: str, info: ValidationInfo) -> str:
        code, line = info.data.get("code"), info.data.get("bug_line")
        if code is None or line is None:
            return fixed  # reported on those fields
        before, after = _lines(code), _lines(fixed)
        changed = [i + 1 for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b]
        if len(before) != len(after) or changed != [line]:
            raise ValueError(
                f"must be the code with line {line} changed and no other line"
                f" (changed: {changed or 'none'}, {len(after)} lines for {len(before)})"
            )
        return fixed

    def lines(self) -> list[str]:
        return _lines(self.code)


class FadedStep(Strict):
    """One step of a worked problem: shown worked, or left to the learner (faded)."""

    title: str = Field(min_length=1, max_length=120)
    worked: Markdown = Field(description="The step worked out; {{answer}} shows its answer.")
    ask: Markdown = Field(description="What the learner is asked when the step is faded.")
    answer_from: Identifier | None = Field(
        default=None,
        description=(
            "A variable the problem's check claims: the answer is its shape (tensor shape "
            "answers) or its number (numeric answers), so torch proves it."
        ),
    )
    tolerance: float = Field(default=0.0, ge=0, description="Numeric answers: absolute.")
    text: TextAnswer | None = Field(default=None, description="A short text answer instead.")

    @model_validator(mode="after")
    def _one_answer(self) -> FadedStep:
        if (self.answer_from is None) == (self.text is None):
            raise ValueError("give the answer as either answer_from or text")
        return self


class WorkedProblem(Strict):
    statement: Markdown
    steps: list[FadedStep] = Field(min_length=2, max_length=8)
    check: Check = Field(description="Run by the suite; claims every step's answer_from.")

    @model_validator(mode="after")
    def _answers_claimed(self) -> WorkedProblem:
        shapes, values = self.check.expect.shapes or {}, self.check.expect.values or {}
        for number, step in enumerate(self.steps, start=1):
            index = step.text.index_of if step.text else None
            if index and index.tensor in shapes and index.shape != shapes[index.tensor]:
                raise ValueError(
                    f"step {number}: index_of.shape {index.shape} differs from the shape "
                    f"of {index.tensor} that check.expect claims, {shapes[index.tensor]}"
                )
            name = step.answer_from
            if name is None or name in shapes:
                continue
            value = values.get(name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(
                    f"step {number}: answer_from '{name}' needs a shape or a number "
                    "claimed in check.expect"
                )
        return self


class WorkedSeries(Strict):
    """`<topic>/worked/<id>.yaml`: problems on one idea. Problem 1 is worked in full, problem 2
    leaves its last step to the learner, problem 3 its last two (the steps fade)."""

    id: Slug = Field(description="Stable id; equals the file name without .yaml.")
    title: str = Field(min_length=1, max_length=120)
    idea: Markdown = Field(description="The idea the series practises.")
    problems: list[WorkedProblem] = Field(min_length=2, max_length=3)

    @field_validator("problems")
    @classmethod
    def _a_step_stays_worked(cls, problems: list[WorkedProblem]) -> list[WorkedProblem]:
        for index, problem in enumerate(problems):
            if len(problem.steps) <= index:
                raise ValueError(
                    f"problem {index + 1} leaves {index} steps to the learner: "
                    f"it needs more than {index}"
                )
        return problems
