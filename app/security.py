"""Password hashing (argon2id), API token secrets, and the permission checks shared by pages and API."""
from __future__ import annotations

import hashlib
import secrets

from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.errors import PermissionDenied

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters
TOKEN_PREFIX = "enc_"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def configure_password_hasher(params: dict | None) -> None:
    """Swap the argon2id cost parameters (the test suite uses cheap ones; production keeps the defaults)."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(**params) if params else PasswordHasher()
    _dummy_hash = None


_dummy_hash: str | None = None


def verify_against_dummy(password: str) -> None:
    """Spend the time a real check takes when the account does not exist, so timing does not reveal it."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not-a-real-password")
    verify_password(_dummy_hash, password)


def new_api_token_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def require(condition: bool, message: str = "You are not allowed to do this.") -> None:
    if not condition:
        raise PermissionDenied(message)


def safe_local_path(target) -> str | None:
    """`target` if it is a path on this site, else None: redirects never leave for another site."""
    if not target or not isinstance(target, str):
        return None
    target = target.strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
