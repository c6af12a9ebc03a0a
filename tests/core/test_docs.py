"""/docs is Swagger UI from this package: same-origin assets only, the vendored files exactly
those of the pinned release, and its one inline script allowed by a nonce of its own."""

from __future__ import annotations

import hashlib
import re

from starlette.testclient import TestClient

from app.core.config import PROJECT_DIR

VENDOR = PROJECT_DIR / "static" / "vendor" / "swagger-ui"


def test_docs_load_only_same_origin_assets(client: TestClient) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert sorted(assets) == [
        "/static/vendor/swagger-ui/favicon-32x32.png",
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/vendor/swagger-ui/swagger-ui.css",
    ]
    assert "url: '/openapi.json'" in response.text
    assert '"validatorUrl": null' in response.text  # no badge fetched from swagger.io
    for asset in assets:
        assert client.get(asset).status_code == 200


def test_the_docs_inline_script_runs_by_a_fresh_nonce_and_nothing_else_inline(
    client: TestClient,
) -> None:
    first, second = client.get("/docs"), client.get("/docs")

    nonce = re.search(r"<script nonce=\"([^\"]+)\">", first.text)
    assert nonce
    assert first.text.count("<script") == 2  # the bundle (src) and the nonced start-up
    policy = first.headers["content-security-policy"]
    assert f"script-src 'self' 'nonce-{nonce[1]}';" in policy
    assert "unsafe-inline" not in policy
    assert nonce[1] not in second.headers["content-security-policy"]
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["x-content-type-options"] == "nosniff"


def test_redoc_is_off_as_it_would_load_from_a_cdn(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 404


def test_the_vendored_files_are_those_of_the_pinned_release_with_their_licence() -> None:
    note = (VENDOR / "README.md").read_text(encoding="utf-8")
    assert "`swagger-ui-dist` **5.35.0**" in note
    sums = dict(
        (name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", note, re.M)
    )
    assert set(sums) == {p.name for p in VENDOR.iterdir() if p.name != "README.md"}
    assert {"LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt"} <= set(sums)
    for name, digest in sums.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
