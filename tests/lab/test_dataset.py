"""The lab's toy data set: deterministic, shaped as the models expect, and built as designed."""

from __future__ import annotations

import time

import pytest
import torch

from app.training.config import INPUT_SIZE, NUM_CLASSES
from app.training.dataset import Draw, LabData, draw, make_data
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
    keyword_id,
)

FIELDS = ("train_x", "train_y", "val_x", "val_y")


@pytest.fixture(scope="module")
def data() -> LabData:
    return make_data()


@pytest.fixture(scope="module")
def drawn() -> Draw:
    return draw()


def test_same_seed_gives_identical_tensors(data: LabData) -> None:
    again = make_data(DATA_SEED)
    for field in FIELDS:
        assert torch.equal(getattr(data, field), getattr(again, field)), field


def test_another_seed_gives_other_data(data: LabData) -> None:
    other = make_data(DATA_SEED + 1)
    for field in FIELDS:
        assert not torch.equal(getattr(data, field), getattr(other, field)), field


def test_the_global_rng_is_neither_used_nor_moved() -> None:
    torch.manual_seed(7)
    state = torch.get_rng_state()
    first = make_data()
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(8)  # another global state: the data must not follow it
    assert torch.equal(make_data().train_x, first.train_x)


def test_shapes_and_dtypes(data: LabData) -> None:
    assert data.train_x.shape == (TRAIN_SIZE, SEQ_LEN, INPUT_SIZE)
    assert data.val_x.shape == (VAL_SIZE, SEQ_LEN, INPUT_SIZE)
    assert data.train_y.shape == (TRAIN_SIZE,)
    assert data.val_y.shape == (VAL_SIZE,)
    assert data.train_x.dtype == data.val_x.dtype == torch.float32
    assert data.train_y.dtype == data.val_y.dtype == torch.int64


def test_make_data_is_the_draws_noisy_split(data: LabData, drawn: Draw) -> None:
    assert torch.equal(data.train_x, drawn.train.x)
    assert torch.equal(data.train_y, drawn.train.y)
    assert torch.equal(data.val_x, drawn.val.x)
    assert torch.equal(data.val_y, drawn.val.y)


@pytest.mark.parametrize("field", ["train_y", "val_y"])
def test_labels_cover_every_class_about_evenly(data: LabData, field: str) -> None:
    labels = getattr(data, field)
    counts = torch.bincount(labels, minlength=NUM_CLASSES)
    assert len(counts) == NUM_CLASSES
    share = counts.float() / len(labels)
    assert share.min() > 0.8 / NUM_CLASSES
    assert share.max() < 1.2 / NUM_CLASSES


def test_train_and_val_share_no_sentence(drawn: Draw) -> None:
    train = {tuple(row) for row in drawn.train.words.tolist()}
    val = {tuple(row) for row in drawn.val.words.tolist()}
    assert len(train) == TRAIN_SIZE  # and no sentence twice within a split
    assert len(val) == VAL_SIZE
    assert not train & val


@pytest.mark.parametrize("split", ["train", "val"])
def test_the_keyword_of_the_clean_label_sits_at_the_start_only(drawn: Draw, split: str) -> None:
    part = getattr(drawn, split)
    rows = torch.arange(len(part.words))
    assert set(part.keyword_position.tolist()) == set(KEYWORD_POSITIONS)
    at_position = part.words[rows, part.keyword_position]
    keywords = torch.tensor(
        [[keyword_id(c, k) for k in range(KEYWORDS_PER_CLASS)] for c in range(NUM_CLASSES)]
    )
    assert (at_position[:, None] == keywords[part.clean_y]).any(dim=1).all()
    # Every other word is a filler: the keyword is the only evidence in the sentence.
    others = part.words.clone()
    others[rows, part.keyword_position] = 0
    assert (others < FILLER_WORDS).all()


def test_word_vectors_and_token_noise_have_the_designed_sizes(drawn: Draw) -> None:
    norms = drawn.vectors.norm(dim=1)
    ratio = norms[FILLER_WORDS:].mean() / norms[:FILLER_WORDS].mean()
    assert ratio == pytest.approx(KEYWORD_SCALE, rel=0.15)
    noise = drawn.train.x - drawn.vectors[drawn.train.words]
    assert noise.std().item() == pytest.approx(TOKEN_NOISE, rel=0.05)
    assert noise.mean().abs().item() < 0.1 * TOKEN_NOISE


@pytest.mark.parametrize("split", ["train", "val"])
def test_label_noise_replaces_the_designed_share_by_other_classes(drawn: Draw, split: str) -> None:
    part = getattr(drawn, split)
    flipped = part.y != part.clean_y
    assert abs(flipped.float().mean().item() - LABEL_NOISE) <= 1 / len(part.y)
    # Flipped labels land on every other class, not on one neighbour.
    offsets = (part.y[flipped] - part.clean_y[flipped]) % NUM_CLASSES
    assert set(offsets.tolist()) == set(range(1, NUM_CLASSES))


def test_generating_is_fast() -> None:
    start = time.perf_counter()
    make_data()
    assert time.perf_counter() - start < 0.5
