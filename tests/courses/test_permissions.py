"""The permission matrix itself (no database): each permission against every pair of roles."""

from __future__ import annotations

import itertools

import pytest

from app.courses.permissions import (
    CONTENT_ROLES,
    DATA_ROLES,
    MATRIX,
    PERMISSIONS,
    Roles,
    allows,
    describe,
)
from app.learners.sessions import Account

PERSON = Account(1, "a@example.org", None, "learner")
ADMIN = Account(2, "admin@example.org", None, "admin")


def test_every_permission_has_one_rule_in_the_matrix() -> None:
    assert set(MATRIX) == set(PERMISSIONS)


@pytest.mark.parametrize(("content", "data"), list(itertools.product(CONTENT_ROLES, DATA_ROLES)))
def test_staff_hold_exactly_what_their_role_on_each_axis_reaches(content: str, data: str) -> None:
    roles = Roles.of_staff(content, data)
    held = {p for p in PERMISSIONS if allows(roles, PERSON, p)}
    expected = {"course:view", "content:view"}
    if content in ("editor", "owner"):
        expected.add("content:edit")
    if content == "owner":
        expected.add("course:manage")
    if data in ("viewer", "editor"):
        expected.add("results:view")
    if data == "editor":
        expected.add("results:edit")
    assert held == expected


def test_an_owner_without_a_learner_data_role_sees_no_results() -> None:
    assert not allows(Roles.of_staff("owner", "none"), PERSON, "results:view")


def test_a_learner_may_only_open_the_course() -> None:
    held = {p for p in PERMISSIONS if allows(Roles(enrolled=True), PERSON, p)}
    assert held == {"course:view"}


def test_nobody_anonymous_or_outside_the_course_holds_anything() -> None:
    for permission in PERMISSIONS:
        assert not allows(Roles.of_staff("owner", "editor"), None, permission)
        assert not allows(Roles(), PERSON, permission)
        assert not allows(None, PERSON, permission)


def test_a_site_admin_holds_every_permission_in_every_course() -> None:
    assert all(allows(None, ADMIN, p) for p in PERMISSIONS)


def test_a_role_the_matrix_does_not_know_grants_nothing_on_its_axis() -> None:
    roles = Roles.of_staff("superuser", "all")
    assert not allows(roles, PERSON, "content:view")
    assert not allows(roles, PERSON, "results:view")


def test_a_refusal_names_the_role_and_axis_needed() -> None:
    assert describe("results:edit") == "results:edit (the editor role or above on learner data)"
