"""Secrets and codes: generate, digest and compare. Nothing else touches raw secrets.

Session ids, PC secrets and temp tokens carry at least 128 bits from ``secrets``, so a plain
SHA-256 digest is enough to make a database dump useless. Pairing codes are short (40 bits),
so they are digested with an HMAC keyed by ``SECRET_KEY``: without the key, a dump of digests
cannot be brute-forced offline.
"""

import hashlib
import re
import secrets

from django.utils.crypto import constant_time_compare, salted_hmac

USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
USER_CODE_LENGTH = 8
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


def new_session_id() -> str:
    """A public, URL-safe id of 128 bits, the contract's least (22 characters).

    It is printed in the QR: on a typical ``https://host/qrlogin/s/<id>/`` ten characters
    fewer take the symbol from version 5 to 4, fewer modules to encode on every create and
    larger ones for the phone's camera. An unknown id is refused like a wrong secret.
    """
    return secrets.token_urlsafe(16)


def new_secret() -> str:
    """A 256-bit secret: the PC secret or a phone's temp token."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str | None, stored_digest: str) -> bool:
    """Constant-time check of a presented secret against its stored digest."""
    if not secret or not stored_digest:
        return False
    return constant_time_compare(digest(secret), stored_digest)


def new_user_code() -> str:
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def normalize_user_code(code: str) -> str | None:
    """Upper-case, drop separators; None unless it could be a code we issued."""
    cleaned = re.sub(r"[\s-]", "", code or "").upper()
    if len(cleaned) != USER_CODE_LENGTH or any(c not in USER_CODE_ALPHABET for c in cleaned):
        return None
    return cleaned


def user_code_digest(code: str) -> str:
    return salted_hmac("qrlogin.user_code", code, algorithm="sha256").hexdigest()


def format_user_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def new_verification_code() -> str:
    return f"{secrets.randbelow(100):02d}"
