"""LTI services over the API: a course's roster synced from its LMS (Names and Role
Provisioning). Asks `results:edit`; the logic is app.lti.nrps, shared with the course's LTI
page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from app.core.deps import DatabaseDep
from app.core.routing import UnitOfWorkRoute
from app.courses.deps import CourseAccess, course_access
from app.lti import nrps

router = APIRouter(prefix="/courses", tags=["lti"], route_class=UnitOfWorkRoute)
ResultsEditEndedDep = Annotated[
    CourseAccess, Depends(course_access("results:edit", then_close=True))
]


class RosterSyncOut(BaseModel):
    contexts: int = Field(description="LMS courses linked to this course whose roster was read.")
    members: int = Field(description="Members listed, every page together.")
    created: int = Field(description="Accounts made for members new to us.")
    enrolled: int = Field(description="Learners newly enrolled.")
    staffed: int = Field(description="Instructors newly added to the staff.")
    unenrolled: int = Field(description="Learners the LMS lists as Inactive or Deleted, removed.")
    errors: list[str] = Field(description="An LMS course whose roster could not be read, and why.")

    @classmethod
    def of(cls, counts: nrps.RosterCounts) -> RosterSyncOut:
        return cls(
            contexts=counts.contexts,
            members=counts.members,
            created=counts.created,
            enrolled=counts.enrolled,
            staffed=counts.staffed,
            unenrolled=counts.unenrolled,
            errors=counts.errors,
        )


@router.post("/{slug}/lti/roster-sync", summary="Sync the roster from the LMS")
async def roster_sync(database: DatabaseDep, access: ResultsEditEndedDep) -> RosterSyncOut:
    """Read the roster of every LMS course linked to this one (LTI Names and Role Provisioning,
    every page) and enrol its learners, add its instructors to the staff, and unenrol the
    members it lists as Inactive or Deleted. Accounts are matched by the LMS's user id."""
    return RosterSyncOut.of(await nrps.sync_course(database, access.course.id))
