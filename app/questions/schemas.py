"""What the API returns about content and the pages render: one shape for both."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TopicSummary(BaseModel):
    slug: str
    title: str
    category: str
    estimated_minutes: int
    summary: str
    summary_html: str
    modes: list[str]
    question_count: int
    difficulty_counts: dict[str, int]
    tags: list[str]


class TopicDetail(TopicSummary):
    notes: str
    notes_html: str


class OptionPublic(BaseModel):
    label: str
    text: str
    text_html: str


class SampleTest(BaseModel):
    """A code question's visible test: run after the learner's code, in its namespace."""

    name: str
    code: str


class QuestionPublic(BaseModel):
    """A question as a learner sees it before answering: never the answer or the solution."""

    id: str
    type: str
    difficulty: str
    tags: list[str]
    prompt: str
    prompt_html: str
    options: list[OptionPublic] | None = None
    unit: str | None = None
    answer_format: str | None = None
    starter: str | None = Field(default=None, description="Code questions: the editor's start.")
    tests: list[str] | None = Field(default=None, description="Code questions: test names.")
    samples: list[SampleTest] | None = Field(
        default=None, description="Code questions: the visible tests that Run tries."
    )


class QuestionForPractice(QuestionPublic):
    hints_html: list[str] = Field(description="The hints revealed so far, in order.")
    hints_total: int = Field(description="How many hints there are to reveal, one at a time.")
    snippet: str | None = Field(
        default=None, description="The prompt's code, to run after answering."
    )
    predict_then_run: bool = False


class OptionReview(BaseModel):
    label: str
    text_html: str
    correct: bool
    chosen: bool
    feedback_html: str


class SolutionStepView(BaseModel):
    title: str
    body_html: str


class Solution(BaseModel):
    """Everything shown after answering."""

    correct_answer: str
    options: list[OptionReview] | None = None
    steps: list[SolutionStepView]
    final_answer_html: str
    reference_code_html: str | None = None
    quick_check_html: str
    common_mistakes_html: list[str]
