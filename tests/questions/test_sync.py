"""Syncing the bank files into the database: versions by content hash, retire instead of delete."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.bank.loader import load_bank
from app.core.config import PROJECT_DIR
from app.questions.models import QuestionRow, QuestionVersion, TopicRow
from app.questions.sync import sync_bank

SOURCE = PROJECT_DIR / "questions" / "birnn"


@pytest.fixture
def bank_dir(tmp_path: Path) -> Path:
    """A copy of a few real questions in a topic of its own, so sync starts from nothing."""
    topic = tmp_path / "sync-topic"
    topic.mkdir()
    shutil.copy(SOURCE / "topic.yaml", topic / "topic.yaml")
    for name in ("output-shape-batch-first", "default-layout-runs-fine"):
        shutil.copy(SOURCE / f"{name}.yaml", topic / f"{name}.yaml")
    return tmp_path


def edit(path: Path, **changes: object) -> None:
    data = yaml.safe_load(path.read_text())
    data.update(changes)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def versions(db: Session, slug: str) -> list[QuestionVersion]:
    question = db.scalar(select(QuestionRow).where(QuestionRow.slug == slug))
    assert question is not None
    return list(
        db.scalars(
            select(QuestionVersion)
            .where(QuestionVersion.question_id == question.id)
            .order_by(QuestionVersion.number)
        )
    )


def renamed(bank_dir: Path) -> None:
    """The real bank already holds these ids; give the copies ids of their own."""
    for path in (bank_dir / "sync-topic").glob("*.yaml"):
        if path.name == "topic.yaml":
            continue
        new_id = f"sync-{path.stem}"
        edit(path, id=new_id)
        path.rename(path.with_name(f"{new_id}.yaml"))


def test_first_sync_creates_one_version_per_question(db: Session, bank_dir: Path) -> None:
    renamed(bank_dir)
    catalog, report = sync_bank(db, load_bank(bank_dir))
    assert sorted(report.new_versions) == [
        "sync-default-layout-runs-fine",
        "sync-output-shape-batch-first",
    ]
    topic = catalog.topic("sync-topic")
    assert [len(versions(db, q.slug)) for q in topic.questions] == [1, 1]


def test_unchanged_files_make_no_new_version(db: Session, bank_dir: Path) -> None:
    renamed(bank_dir)
    sync_bank(db, load_bank(bank_dir))
    path = bank_dir / "sync-topic" / "sync-output-shape-batch-first.yaml"
    # Reformatting is not a content change.
    path.write_text(yaml.safe_dump(yaml.safe_load(path.read_text()), sort_keys=True, width=60))
    _, report = sync_bank(db, load_bank(bank_dir))
    assert report.new_versions == []


def test_edited_question_gets_a_new_version_and_keeps_the_old(db: Session, bank_dir: Path) -> None:
    renamed(bank_dir)
    first, _ = sync_bank(db, load_bank(bank_dir))
    old_version = first.question("sync-output-shape-batch-first").version_id
    edit(bank_dir / "sync-topic" / "sync-output-shape-batch-first.yaml", difficulty="medium")
    second, report = sync_bank(db, load_bank(bank_dir))
    assert report.new_versions == ["sync-output-shape-batch-first"]
    rows = versions(db, "sync-output-shape-batch-first")
    assert [v.number for v in rows] == [1, 2]
    assert second.question("sync-output-shape-batch-first").version_id == rows[1].id
    # The old version is still readable, as answers point at it.
    assert second.version(db, old_version).difficulty.value == "easy"


def test_deleted_question_is_retired_not_deleted(db: Session, bank_dir: Path) -> None:
    renamed(bank_dir)
    sync_bank(db, load_bank(bank_dir))
    (bank_dir / "sync-topic" / "sync-default-layout-runs-fine.yaml").unlink()
    catalog, report = sync_bank(db, load_bank(bank_dir))
    assert "sync-default-layout-runs-fine" in report.retired
    row = db.scalar(select(QuestionRow).where(QuestionRow.slug == "sync-default-layout-runs-fine"))
    assert row is not None and row.retired_at is not None
    assert [q.slug for q in catalog.topic("sync-topic").questions] == [
        "sync-output-shape-batch-first"
    ]


def test_restored_question_is_active_again_with_its_old_version(
    db: Session, bank_dir: Path
) -> None:
    renamed(bank_dir)
    path = bank_dir / "sync-topic" / "sync-default-layout-runs-fine.yaml"
    saved = path.read_text()
    sync_bank(db, load_bank(bank_dir))
    path.unlink()
    sync_bank(db, load_bank(bank_dir))
    path.write_text(saved)
    _, report = sync_bank(db, load_bank(bank_dir))
    assert report.new_versions == []
    row = db.scalar(select(QuestionRow).where(QuestionRow.slug == "sync-default-layout-runs-fine"))
    assert row is not None and row.retired_at is None


def test_removed_topic_is_retired(db: Session, bank_dir: Path) -> None:
    renamed(bank_dir)
    shutil.copytree(bank_dir / "sync-topic", bank_dir / "sync-gone")
    for path in (bank_dir / "sync-gone").glob("sync-*.yaml"):
        edit(path, id=f"gone-{path.stem}")
        path.rename(path.with_name(f"gone-{path.stem}.yaml"))
    sync_bank(db, load_bank(bank_dir))
    shutil.rmtree(bank_dir / "sync-gone")
    catalog, report = sync_bank(db, load_bank(bank_dir))
    topic = db.scalar(select(TopicRow).where(TopicRow.slug == "sync-gone"))
    assert topic is not None and topic.retired_at is not None
    assert "topic sync-gone" in report.retired
    assert "sync-gone" not in catalog.topics
