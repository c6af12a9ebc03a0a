"""Password hashing: Argon2id with pwdlib's recommended parameters (RFC 9106's second
choice: 64 MiB, 3 passes), verified in constant time whatever the account."""

from __future__ import annotations

from functools import cache

from pwdlib import PasswordHash

_HASHER = PasswordHash.recommended()


@cache
def _dummy() -> str:
    """Verified against when no account has the address, so that "no such account" takes as
    long as "wrong password" and the timing tells an attacker nothing. Made on first use: a
    hash costs a fifth of a second, and every process (each CLI command) would pay it."""
    return _HASHER.hash("not a password of anyone's")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password: str, stored: str | None) -> tuple[bool, str | None]:
    """Whether `password` matches; and a new hash when the stored one's parameters are older
    than today's (to be saved), else None."""
    if stored is None:
        _HASHER.verify(password, _dummy())
        return False, None
    return _HASHER.verify_and_update(password, stored)
