"""The LTI platforms as JSON, for site administrators: register, list, change, deactivate."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.core.bounds import PublicId
from app.core.deps import SessionDep
from app.core.routing import UnitOfWorkRoute
from app.learners.deps import AdminDep
from app.lti import platforms
from app.lti.deps import platforms_changed, tool_urls
from app.lti.schemas import PlatformIn, PlatformOut, PlatformPatch, ToolUrls

router = APIRouter(prefix="/admin/lti", tags=["lti"], route_class=UnitOfWorkRoute)


@router.get("/tool")
def our_urls(request: Request, admin: AdminDep) -> ToolUrls:
    """Our URLs, to paste into an LMS's registration of this tool."""
    return tool_urls(request)


@router.get("/platforms")
def list_platforms(db: SessionDep, admin: AdminDep) -> list[PlatformOut]:
    """Every registered platform, the deactivated ones included."""
    return [PlatformOut.of(row) for row in platforms.list_platforms(db)]


@router.post("/platforms", status_code=201)
def register_platform(
    body: PlatformIn, request: Request, db: SessionDep, admin: AdminDep
) -> PlatformOut:
    """Register a platform (an LMS); 409 when its issuer and client id are registered."""
    row = platforms.create_platform(db, body)
    platforms_changed(request)
    return PlatformOut.of(row)


@router.get("/platforms/{platform_id}")
def get_platform(platform_id: PublicId, db: SessionDep, admin: AdminDep) -> PlatformOut:
    """One platform."""
    return PlatformOut.of(platforms.get_platform(db, platform_id))


@router.patch("/platforms/{platform_id}")
def change_platform(
    platform_id: PublicId, body: PlatformPatch, request: Request, db: SessionDep, admin: AdminDep
) -> PlatformOut:
    """Change some of a platform's fields; `active: false` deactivates it."""
    row = platforms.update_platform(db, platforms.get_platform(db, platform_id), body)
    platforms_changed(request)
    return PlatformOut.of(row)


@router.delete("/platforms/{platform_id}", status_code=204)
def deactivate_platform(
    platform_id: PublicId, request: Request, db: SessionDep, admin: AdminDep
) -> Response:
    """Deactivate a platform: its launches are refused; its courses and links are kept."""
    platforms.deactivate(db, platforms.get_platform(db, platform_id))
    platforms_changed(request)
    return Response(status_code=204)
