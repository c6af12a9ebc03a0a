"""What the study modes' API returns and their pages render: one shape for both."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.core.bounds import Text
from app.runner.protocol import MAX_CODE_BYTES

# --- flashcards ---


class FlashcardView(BaseModel):
    number: int = Field(description="From 1, in the topic file's order.")
    front: str
    front_html: str
    back: str
    back_html: str
    note: str = Field(description="The `##` section of the topic's notes the card comes from.")
    note_title: str = Field(description="That section's title as shown (no Markdown).")
    note_fragment: str = Field(
        description="Appended to the topic's Learn page address, scrolls to that section."
    )


class FlashcardRound(BaseModel):
    """A pass through the deck, held in the address (no storage): the card on screen, whether
    its back is shown, and a mark per card before it (1 knew it, 0 not yet)."""

    topic: str
    title: str
    total: int
    number: int = Field(description="The card shown; total + 1 once the round is over.")
    shown: bool
    marks: str
    card: FlashcardView | None = Field(description="None once the round is over.")
    knew: int = Field(description="Cards marked 'knew it' so far.")
    not_yet: list[FlashcardView] = Field(description="Cards marked 'not yet' so far.")

    @property
    def done(self) -> bool:
        return self.card is None


# --- spot the bug ---


class BugSummary(BaseModel):
    id: str
    title: str
    difficulty: str
    task_html: str


class BugPublic(BugSummary):
    """A bug hunt as the learner sees it: never the line, the explanation or the fix."""

    task: str
    code: str
    lines: list[str]
    hints_html: list[str]
    tests: list[str] = Field(description="The hidden tests' names.")


class LinePick(BaseModel):
    line: int = Field(ge=1, le=10_000, description="The line the learner thinks is defective.")


class LineVerdict(BaseModel):
    line: int
    correct: bool
    message: str = Field(description="The verdict in words.")
    explanation_html: str | None = Field(description="Why the line is wrong, once found.")


class FixIn(BaseModel):
    code: Text = Field(
        max_length=MAX_CODE_BYTES, description="The whole snippet with the defective line fixed."
    )


class TestReport(BaseModel):
    name: str
    passed: bool
    message: str
    expected: str
    got: str


class FixResult(BaseModel):
    correct: bool = Field(description="Every hidden test passed.")
    passed: int
    total: int
    tests: list[TestReport]


# --- worked examples ---


class SeriesSummary(BaseModel):
    id: str
    title: str
    idea_html: str
    problems: int


class StepView(BaseModel):
    number: int
    title: str
    faded: bool = Field(description="Left to the learner: no worked text, no answer.")
    worked_html: str | None
    ask_html: str
    answer_format: str | None = Field(description="How to write the answer of a faded step.")


class ProblemView(BaseModel):
    series: SeriesSummary
    number: int
    statement_html: str
    steps: list[StepView]


class StepAnswer(BaseModel):
    step: int = Field(ge=1, le=100)
    answer: Text = Field(max_length=500)


class StepAnswers(BaseModel):
    answers: list[StepAnswer] = Field(min_length=1, max_length=8)


class StepVerdict(BaseModel):
    step: int
    given: str
    readable: bool = Field(description="False: the answer could not be read (see message).")
    correct: bool
    message: str = Field(description="The verdict in words.")
    worked_html: str = Field(description="The step worked out, to compare with.")
