"""Request dependencies of the question bank."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.questions.catalog import Catalog


async def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog  # type: ignore[no-any-return]


CatalogDep = Annotated[Catalog, Depends(get_catalog)]
