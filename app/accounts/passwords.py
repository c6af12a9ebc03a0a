"""Password hashing: Argon2id with pwdlib's recommended parameters (RFC 9106's second
choice: 64 MiB, 3 passes), verified in constant time whatever the account."""

from __future__ import annotations

from pwdlib import PasswordHash

_HASHER = PasswordHash.recommended()
# Verified against when no account has the address, so that "no such account" takes as long
# as "wrong password" and the timing tells an attacker nothing.
_DUMMY = _HASHER.hash("not a password of anyone's")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password: str, stored: str | None) -> tuple[bool, str | None]:
    """Whether `password` matches; and a new hash when the stored one's parameters are older
    than today's (to be saved), else None."""
    if stored is None:
        _HASHER.verify(password, _DUMMY)
        return False, None
    return _HASHER.verify_and_update(password, stored)
