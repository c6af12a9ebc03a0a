"""The tool's signing keys: published at /lti/jwks.json with their kid, rotated with two live,
retired by an operator; and the platform's keys, fetched again once on an unknown kid."""

from __future__ import annotations

import asyncio
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.cli import main
from app.core.errors import ConflictError, NotFoundError
from app.lti import keys
from app.lti.jwks import PlatformKeys
from tests.lti.emulator import Platform


def published(client: TestClient) -> dict[str, dict[str, str]]:
    answer = client.get("/lti/jwks.json")
    assert answer.status_code == 200
    return {k["kid"]: k for k in answer.json()["keys"]}


def test_the_jwks_publishes_an_rs256_signing_key_with_its_kid_cached_five_minutes(
    client: TestClient, db: Session
) -> None:
    answer = client.get("/lti/jwks.json")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "public, max-age=300"
    (key,) = answer.json()["keys"]
    assert {key["kty"], key["alg"], key["use"]} == {"RSA", "RS256", "sig"}
    assert key["kid"] == keys.current_key(db).kid
    assert key["n"] and key["e"] == "AQAB"
    assert "d" not in key and "p" not in key  # never the private parts


def test_a_rotation_publishes_both_keys_and_the_old_one_verifies_until_retired(
    client: TestClient, db: Session
) -> None:
    old = keys.current_key(db)
    signed_by_old = old.sign({"sub": "x"})
    new_kid = keys.rotate(db)
    db.commit()
    assert keys.current_key(db).kid == new_kid != old.kid
    live = published(client)
    assert set(live) == {old.kid, new_kid}
    old_public = jwt.PyJWK(live[old.kid]).key
    assert jwt.decode(signed_by_old, old_public, algorithms=["RS256"])["sub"] == "x"
    signed_by_new = keys.current_key(db).sign({"sub": "y"})
    assert jwt.get_unverified_header(signed_by_new)["kid"] == new_kid
    keys.retire(db, old.kid)
    db.commit()
    assert set(published(client)) == {new_kid}


def test_the_last_live_key_cannot_be_retired_and_an_unknown_kid_is_named(db: Session) -> None:
    only = keys.current_key(db)
    with pytest.raises(ConflictError, match="only live key"):
        keys.retire(db, only.kid)
    with pytest.raises(NotFoundError, match="no-such-kid"):
        keys.retire(db, "no-such-kid")


def test_the_command_line_lists_rotates_and_retires_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHQUIZ_INSTANCE_DIR", str(tmp_path))
    monkeypatch.delenv("TORCHQUIZ_DATABASE_URL", raising=False)
    runner = CliRunner()
    listed = runner.invoke(main, ["lti", "keys", "list"])
    assert listed.exit_code == 0, listed.output
    (first,) = [line.split()[0] for line in listed.output.splitlines()]
    rotated = runner.invoke(main, ["lti", "keys", "rotate"])
    assert rotated.exit_code == 0 and "new signing key" in rotated.output
    lines = runner.invoke(main, ["lti", "keys", "list"]).output.splitlines()
    assert len(lines) == 2 and "(signs)" in lines[0] and first in lines[1]
    retired = runner.invoke(main, ["lti", "keys", "retire", first])
    assert retired.exit_code == 0 and f"retired {first}" in retired.output
    last = runner.invoke(main, ["lti", "keys", "list"]).output
    assert f"{first}  created" in last and "retired" in last
    refused = runner.invoke(main, ["lti", "keys", "retire", "nope"])
    assert refused.exit_code == 1 and "no live tool key" in refused.output


def test_an_unknown_kid_fetches_the_platform_keys_again_once_but_not_in_a_flood() -> None:
    with Platform() as platform:
        cache = PlatformKeys()
        url = f"{platform.url}/jwks"
        first = platform.key.kid

        async def scenario() -> None:
            assert await cache.key(url, first) is not None
            assert cache.fetches == 1
            assert await cache.key(url, first) is not None  # cached
            assert cache.fetches == 1
            rotated = platform.rotate_key()
            assert await cache.key(url, rotated) is not None  # fetched again: found
            assert cache.fetches == 2
            for forged in ("bad-1", "bad-2", "bad-3"):  # within the refetch interval
                assert await cache.key(url, forged) is None
            assert cache.fetches == 2  # the flood fetched nothing more
            cache.refetch_seconds = 0  # the interval is what held them back
            assert await cache.key(url, "bad-4") is None
            assert cache.fetches == 3

        asyncio.run(scenario())
