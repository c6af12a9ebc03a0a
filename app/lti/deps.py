"""Request dependencies of the LTI tool: the process's cache of platform keys, our URLs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.lti.ancestors import PlatformOrigins
from app.lti.jwks import PlatformKeys
from app.lti.schemas import ToolUrls


def platform_keys(request: Request) -> PlatformKeys:
    """One cache per app (made on first need): tests reach it as app.state.lti_platform_keys."""
    state = request.app.state
    keys: PlatformKeys | None = getattr(state, "lti_platform_keys", None)
    if keys is None:
        keys = state.lti_platform_keys = PlatformKeys()
    return keys


PlatformKeysDep = Annotated[PlatformKeys, Depends(platform_keys)]


def platforms_changed(request: Request) -> None:
    """The registered platforms changed: the CSP's frame-ancestors reads them again."""
    origins: PlatformOrigins | None = getattr(request.app.state, "lti_origins", None)
    if origins is not None:
        origins.invalidate()


def tool_urls(request: Request) -> ToolUrls:
    """Our URLs as the LMS must call them (behind a proxy, as the request reached us)."""
    base = str(request.base_url).rstrip("/")
    return ToolUrls(
        login=f"{base}/lti/login",
        launch=f"{base}/lti/launch",
        jwks=f"{base}/lti/jwks.json",
        deep_linking=f"{base}/lti/launch",
        registration=f"{base}/lti/register",
    )
