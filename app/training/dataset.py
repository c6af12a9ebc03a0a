"""The experiment lab's toy data set, drawn from app.training.design (which documents it).

Deterministic: one local torch.Generator seeded with the data seed draws everything, so the
global RNG (model init, dropout) is neither used nor disturbed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from app.training.config import INPUT_SIZE, NUM_CLASSES
from app.training.design import (
    DATA_SEED,
    FILLER_WORDS,
    KEYWORD_POSITIONS,
    KEYWORD_SCALE,
    KEYWORDS_PER_CLASS,
    LABEL_NOISE,
    SEQ_LEN,
    TOKEN_NOISE,
    TRAIN_SIZE,
    VAL_SIZE,
    VOCABULARY,
    WORD_STD,
)


@dataclass(frozen=True)
class LabData:
    """What the models read: word vectors (N, SEQ_LEN, INPUT_SIZE) float32, labels (N,) int64."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor


@dataclass(frozen=True)
class Split:
    """One split as drawn, before and after the noise: what the tests check the design by."""

    words: torch.Tensor  # (N, SEQ_LEN) int64 word ids
    keyword_position: torch.Tensor  # (N,) int64, where the clean label's keyword sits
    clean_y: torch.Tensor  # (N,) int64, the label the keyword stands for
    y: torch.Tensor  # (N,) int64, after label noise: what the models are trained and scored on
    x: torch.Tensor  # (N, SEQ_LEN, INPUT_SIZE) float32, the word vectors plus token noise


@dataclass(frozen=True)
class Draw:
    """Everything one data seed draws: the vocabulary's vectors and both splits."""

    vectors: torch.Tensor  # (VOCABULARY, INPUT_SIZE) float32
    train: Split
    val: Split


def draw(seed: int = DATA_SEED) -> Draw:
    """The whole draw, in a fixed order from one generator (vocabulary, train, then val)."""
    gen = torch.Generator().manual_seed(seed)
    vectors = torch.randn(VOCABULARY, INPUT_SIZE, generator=gen) * WORD_STD
    vectors[FILLER_WORDS:] *= KEYWORD_SCALE
    train = _split(TRAIN_SIZE, vectors, gen)
    val = _split(VAL_SIZE, vectors, gen)
    return Draw(vectors=vectors, train=train, val=val)


def make_data(seed: int = DATA_SEED) -> LabData:
    """The lab's train and val sets for a data seed."""
    data = draw(seed)
    return LabData(train_x=data.train.x, train_y=data.train.y, val_x=data.val.x, val_y=data.val.y)


def _split(size: int, vectors: torch.Tensor, gen: torch.Generator) -> Split:
    # Balanced classes and an exact count of flipped labels: the draw then moves the figures
    # less, since the ceiling is the same in every split (1 - LABEL_NOISE).
    clean_y = (torch.arange(size) % NUM_CLASSES)[torch.randperm(size, generator=gen)]
    words = torch.randint(FILLER_WORDS, (size, SEQ_LEN), generator=gen)
    positions = torch.tensor(KEYWORD_POSITIONS)
    keyword_position = positions[torch.randint(len(positions), (size,), generator=gen)]
    which = torch.randint(KEYWORDS_PER_CLASS, (size,), generator=gen)
    rows = torch.arange(size)
    words[rows, keyword_position] = FILLER_WORDS + clean_y * KEYWORDS_PER_CLASS + which
    x = vectors[words] + torch.randn(size, SEQ_LEN, INPUT_SIZE, generator=gen) * TOKEN_NOISE
    return Split(
        words=words,
        keyword_position=keyword_position,
        clean_y=clean_y,
        y=_flip_labels(clean_y, gen),
        x=x,
    )


def _flip_labels(clean_y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A random LABEL_NOISE share of the labels, each to another class uniformly at random."""
    size = len(clean_y)
    flipped = torch.randperm(size, generator=gen)[: round(LABEL_NOISE * size)]
    offset = torch.randint(1, NUM_CLASSES, (len(flipped),), generator=gen)  # never 0: another
    y = clean_y.clone()
    y[flipped] = (clean_y[flipped] + offset) % NUM_CLASSES
    return y
