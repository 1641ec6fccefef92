"""The only module that handles raw token secrets.

A raw token is 32 bytes from ``secrets`` (256 bits), URL-safe base64 encoded. Only its SHA-256
digest is stored: with that much entropy a slow password hash buys nothing (the argument
django-rest-knox makes), and a fast hash keeps per-request authentication cheap. A short
prefix of the raw token is stored in clear as a non-secret index to find candidate rows; the
digests are then compared in constant time.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from django.utils.crypto import constant_time_compare

TOKEN_BYTES = 32
# The authorization schemes a device token is used under (the answers' ``token_type``).
BEARER_SCHEME = "Token"
DPOP_SCHEME = "DPoP"
# Characters of the raw token kept in clear for lookup. Fixed (not a setting): changing it
# would orphan every token issued before.
PREFIX_LENGTH = 8
_WELL_FORMED = re.compile(rf"[A-Za-z0-9_-]{{{PREFIX_LENGTH + 16},128}}")


def generate_token() -> str:
    """A new raw token: 256 random bits, URL-safe, 43 characters."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_prefix(raw: str) -> str:
    """The non-secret lookup prefix of a raw token."""
    return raw[:PREFIX_LENGTH]


def token_digest(raw: str) -> str:
    """SHA-256 hex digest of a raw token: what the database stores."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def digest_matches(raw: str, digest: str) -> bool:
    """Whether ``raw`` hashes to ``digest``, compared in constant time."""
    return constant_time_compare(token_digest(raw), digest)


def is_well_formed(raw: str) -> bool:
    """Cheap syntax check run before any database lookup, so junk never reaches SQL."""
    return bool(_WELL_FORMED.fullmatch(raw))
