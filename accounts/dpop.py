"""Proof of possession for device tokens: DPoP proofs (RFC 9449).

A device token alone is a bearer secret: whoever copies it off a backup, a log or a proxy is
that device. A device that holds a private key (Secure Enclave, Android Keystore, a desktop key
file) can bind its token to the key's RFC 7638 thumbprint; from then on every request carries a
fresh proof signed with that key, and a copied token without the key is useless.

Signature checks are PyJWT's (with ``cryptography``); this module decides what a proof must say
and remembers which proofs were already used. Only asymmetric algorithms are accepted, and the
verification key is always the proof's own ``jwk``, never a key chosen by the header's ``alg``,
so neither ``alg: none`` nor "HS256 with the public key as the secret" can pass.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import jwt
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status

from .conf import accounts_settings

logger = logging.getLogger(__name__)

HEADER = "DPoP"
NONCE_HEADER = "DPoP-Nonce"
TYP = "dpop+jwt"
# ES256 is what every phone's secure hardware makes (P-256); EdDSA for desktop keys.
ALGORITHMS = ("ES256", "EdDSA")
KEY_TYPES = {"ES256": {("EC", "P-256")}, "EdDSA": {("OKP", "Ed25519"), ("OKP", "Ed448")}}
# Members that only a private (or symmetric) JWK has: a client that sends one has leaked it.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# RFC 7638 section 3.2: the required members of each key type, the only ones hashed.
THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
}
# How far a proof's iat may be from the server's clock, either way (protocol.md: 60 s).
IAT_WINDOW = 60
# A proof is a few hundred bytes; anything far larger is refused before it is parsed.
MAX_PROOF_LENGTH = 4096
MAX_JTI_LENGTH = 256
NONCE_SALT = "qrlogin_accounts.dpop.nonce"
REPLAY_KEY_PREFIX = "qrlogin_accounts:dpop:jti:"
# Caches whose add() is atomic and shared by every process of the site.
SHARED_CACHE_BACKENDS = frozenset(
    {
        "django.core.cache.backends.redis.RedisCache",
        "django_redis.cache.RedisCache",
        "django.core.cache.backends.memcached.PyMemcacheCache",
        "django.core.cache.backends.memcached.PyLibMCCache",
    }
)
CHALLENGE_ALGS = f'algs="{" ".join(ALGORITHMS)}"'


# Errors ----------------------------------------------------------------------------------
# Not subclasses of AuthenticationFailed on purpose: DRF would replace their WWW-Authenticate
# challenge with the first authenticator's, or turn the 401 into a 403 when that one (session
# authentication) names no scheme.


class InvalidDPoPProof(exceptions.APIException):
    """The proof is missing, malformed, or does not fit the request or the token."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = _("The DPoP proof is invalid.")
    default_code = "invalid_dpop_proof"
    auth_header = 'DPoP error="invalid_dpop_proof"'

    def __init__(self, detail: Any = None, *, http_status: int | None = None) -> None:
        super().__init__(detail)
        if http_status is not None:
            self.status_code = http_status


class UseDPoPNonce(InvalidDPoPProof):
    """RFC 9449 section 8: the proof must carry the nonce sent in the DPoP-Nonce header."""

    default_detail = _(
        "A fresh DPoP nonce is required: put the DPoP-Nonce header's value in the proof."
    )
    default_code = "use_dpop_nonce"
    auth_header = 'DPoP error="use_dpop_nonce"'


class DPoPRequired(exceptions.APIException):
    """This site binds every token to a key (``ACCOUNTS["DPOP"] = "required"``)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("This site requires a DPoP proof: log in again with a key.")
    default_code = "dpop_required"

    def __init__(self, detail: Any = None, *, http_status: int | None = None) -> None:
        super().__init__(detail)
        if http_status is not None:
            self.status_code = http_status
        if self.status_code == status.HTTP_401_UNAUTHORIZED:
            self.auth_header = f"DPoP {CHALLENGE_ALGS}"


# Pure helpers ------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The key's RFC 7638 SHA-256 thumbprint (base64url): the required members only, sorted,
    without whitespace, so the same key always hashes the same whatever else the JWK says."""
    kty = jwk.get("kty")
    members = THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None or not all(isinstance(jwk.get(m), str) for m in members):
        raise ValueError("Not a public JWK of a known key type.")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def access_token_hash(token: str) -> str:
    """``ath``: base64url(SHA-256(token)), binding a proof to the token it travels with."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def normalize_url(url: str) -> tuple[str, str, int | None, str]:
    """(scheme, host, port, path) compared for ``htu``; query and fragment are ignored.

    RFC 9449 section 4.3 asks for RFC 3986 syntax- and scheme-based normalization: lowercase
    scheme and host, the default port dropped, an empty path as ``/``, percent-escapes decoded.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port  # ValueError for a port that is no number
    if (scheme, port) in (("https", 443), ("http", 80)):
        port = None
    return scheme, (parts.hostname or ""), port, unquote(parts.path or "/")


def request_url(request: HttpRequest) -> str:
    """This request's URL as the site sees it: scheme and host as Django resolves them behind
    its proxies (``SECURE_PROXY_SSL_HEADER``, ``USE_X_FORWARDED_HOST``, ``ALLOWED_HOSTS``)."""
    return request.build_absolute_uri(request.path)


@dataclass(frozen=True)
class Proof:
    """A verified proof: the key it was made with and what must stay unique."""

    jkt: str
    jti: str
    iat: int
    nonce: str | None


def _finite(number: float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


def _refuse(detail: Any, http_status: int | None) -> InvalidDPoPProof:
    return InvalidDPoPProof(detail, http_status=http_status)


def verify_proof(
    value: str,
    *,
    method: str,
    url: str,
    access_token: str | None = None,
    now: float | None = None,
    http_status: int | None = None,
) -> Proof:
    """Check a proof's form, signature and claims against one request; raise InvalidDPoPProof.

    Neither the nonce nor the jti's uniqueness is checked here (see :func:`verify_request`):
    this is the pure part, the same for every process.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_PROOF_LENGTH:
        raise _refuse(_("The DPoP proof is malformed."), http_status)
    try:
        header = jwt.get_unverified_header(value)
    except (jwt.InvalidTokenError, RecursionError):  # RecursionError: JSON nested too deep
        raise _refuse(_("The DPoP proof is malformed."), http_status) from None
    if header.get("typ") != TYP:
        raise _refuse(_("The DPoP proof must have the type dpop+jwt."), http_status)
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise _refuse(_("The DPoP proof must be signed with ES256 or EdDSA."), http_status)
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise _refuse(_("The DPoP proof must carry its public key (jwk)."), http_status)
    if PRIVATE_MEMBERS & jwk.keys():
        raise _refuse(_("The DPoP proof's jwk must not contain a private key."), http_status)
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if not isinstance(kty, str) or not isinstance(crv, str) or (kty, crv) not in KEY_TYPES[alg]:
        raise _refuse(_("The DPoP proof's key does not fit its algorithm."), http_status)
    try:
        jkt = thumbprint(jwk)
    except ValueError:
        raise _refuse(_("The DPoP proof must carry its public key (jwk)."), http_status) from None
    try:
        key = jwt.PyJWK(jwk, algorithm=alg)
        signed = jwt.PyJWS().decode_complete(value, key=key, algorithms=[alg])
        claims = json.loads(signed["payload"])
    except (jwt.InvalidSignatureError, jwt.exceptions.InvalidKeyError) as exc:
        logger.info("DPoP proof refused: %s", exc)
        raise _refuse(_("The DPoP proof's signature is invalid."), http_status) from None
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        raise _refuse(_("The DPoP proof is malformed."), http_status) from None
    if not isinstance(claims, dict):
        raise _refuse(_("The DPoP proof is malformed."), http_status)

    jti, htm, htu, iat = (claims.get(k) for k in ("jti", "htm", "htu", "iat"))
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise _refuse(_("The DPoP proof needs a jti."), http_status)
    if htm != method:
        raise _refuse(_("The DPoP proof was made for another HTTP method."), http_status)
    try:
        if not isinstance(htu, str) or normalize_url(htu) != normalize_url(url):
            raise ValueError
    except ValueError:
        raise _refuse(_("The DPoP proof was made for another URL."), http_status) from None
    # JSON numbers may be NaN, Infinity or an integer too large for a float: none is a time.
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not _finite(iat):
        raise _refuse(_("The DPoP proof needs an iat."), http_status)
    clock = time.time() if now is None else now
    if abs(clock - iat) > IAT_WINDOW:
        raise _refuse(_("The DPoP proof is too old, or from the future."), http_status)
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not secrets.compare_digest(
            ath.encode("ascii", "replace"), access_token_hash(access_token).encode("ascii")
        ):
            raise _refuse(_("The DPoP proof was made for another token."), http_status)
    nonce = claims.get("nonce")
    return Proof(
        jkt=jkt,
        jti=jti,
        iat=int(iat),
        nonce=nonce if isinstance(nonce, str) else None,
    )


# Server nonces (RFC 9449 section 8) ---------------------------------------------------------
# Stateless: a random value signed with SECRET_KEY and a timestamp, so every process accepts
# every other's nonces without sharing anything but the settings.


def nonce_ttl() -> int | None:
    """Seconds a nonce stays good, or None when nonces are off (``ACCOUNTS["DPOP_NONCE"]``)."""
    value = accounts_settings.DPOP_NONCE
    if value is True:
        return 300
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return max(1, int(value))


def new_nonce() -> str:
    return signing.TimestampSigner(salt=NONCE_SALT).sign(secrets.token_urlsafe(12))


def nonce_is_fresh(nonce: str | None, ttl: int) -> bool:
    if not nonce or len(nonce) > 256:
        return False
    try:
        signing.TimestampSigner(salt=NONCE_SALT).unsign(nonce, max_age=ttl)
    except signing.BadSignature:
        return False
    return True


# Replay cache ----------------------------------------------------------------------------


def replay_store() -> str:
    """``"cache"`` or ``"database"``: where used jtis are remembered.

    The check must hold across processes. A shared cache with an atomic ``add()`` (Redis,
    Memcached) is the cheap place; Django's local-memory cache is per process, so a proof
    replayed to another worker would pass: then the database's unique index decides instead.
    """
    choice = accounts_settings.DPOP_REPLAY_STORE
    if choice in ("cache", "database"):
        return choice
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    return "cache" if backend in SHARED_CACHE_BACKENDS else "database"


def replay_key(jkt: str, jti: str) -> str:
    # jti is unique per key (RFC 9449 section 11.1), and client-chosen: hash it to a fixed size.
    return hashlib.sha256(f"{jkt}\x00{jti}".encode()).hexdigest()


def first_use(jkt: str, jti: str, iat: int, *, store: str | None = None) -> bool:
    """Record a proof as used; False when it was used before (a replay). Atomic, one winner.

    An entry is kept while its proof could still pass the iat check (until iat + window).
    """
    key = replay_key(jkt, jti)
    ttl = max(int(iat + IAT_WINDOW - time.time()), 0) + 1
    if (store or replay_store()) == "cache":
        added = cache.add(REPLAY_KEY_PREFIX + key, 1, timeout=ttl)
        if added is not None:
            return bool(added)
        # django-redis with IGNORE_EXCEPTIONS answers None while Redis is away: the database
        # still holds across processes, so use it rather than let every proof through.
        logger.warning("DPoP replay cache unavailable; using the database")
    return _first_use_in_database(key, ttl)


def _first_use_in_database(key: str, ttl: int) -> bool:
    from .models import DPoPProofUse

    now = timezone.now()
    try:
        with transaction.atomic():  # a savepoint: a duplicate must not break the caller's
            DPoPProofUse.objects.filter(expires_at__lte=now).delete()
            DPoPProofUse.objects.create(key=key, expires_at=now + timedelta(seconds=ttl))
    except IntegrityError:
        return False
    return True


# Requests --------------------------------------------------------------------------------


def proof_header(request: HttpRequest, http_status: int | None = None) -> str | None:
    """The request's one DPoP header, or None. Several (joined with commas) are refused."""
    value = request.META.get("HTTP_DPOP")
    if value is None:
        return None
    if "," in value or not value.strip():
        raise _refuse(_("Send exactly one DPoP proof."), http_status)
    return value.strip()


def verify_request(
    request: Any,
    value: str,
    *,
    access_token: str | None = None,
    jkt: str | None = None,
    http_status: int | None = None,
) -> Proof:
    """Verify ``value`` as this request's proof: form, signature, claims, the key (``jkt``,
    the thumbprint the token is bound to), the nonce, and a jti not used before."""
    django_request = getattr(request, "_request", request)
    proof = verify_proof(
        value,
        method=django_request.method,
        url=request_url(django_request),
        access_token=access_token,
        http_status=http_status,
    )
    if jkt is not None and not secrets.compare_digest(proof.jkt, jkt):
        raise _refuse(_("The DPoP proof is signed with another key than the token's."), http_status)
    ttl = nonce_ttl()
    if ttl is not None and not nonce_is_fresh(proof.nonce, ttl):
        send_nonce(request)
        raise UseDPoPNonce(http_status=http_status)
    # Last, so that proofs refused for any other reason do not fill the replay store.
    if not first_use(proof.jkt, proof.jti, proof.iat):
        raise _refuse(_("The DPoP proof has been used before."), http_status)
    return proof


def send_nonce(request: Any) -> None:
    """Put a fresh nonce in the response's DPoP-Nonce header.

    A DRF view applies ``view.headers`` to whatever response it sends, errors included, so the
    header goes out whichever exception handler renders the error (ours, qrlogin's, the host's).
    """
    view = (getattr(request, "parser_context", None) or {}).get("view")
    if view is not None and isinstance(getattr(view, "headers", None), dict):
        view.headers[NONCE_HEADER] = new_nonce()


def mode() -> str:
    """``ACCOUNTS["DPOP"]``: "optional", "required" or "off"."""
    value = accounts_settings.DPOP
    return value if value in ("optional", "required", "off") else "optional"


def binding_for_token_request(request: Any) -> str | None:
    """The thumbprint a token issued to this request must be bound to, or None (unbound).

    For the token request and the desktop's completion: a bad proof, or none where
    ``ACCOUNTS["DPOP"]`` is "required", is a 400 (RFC 9449 section 5, the token endpoint).
    """
    current = mode()
    if current == "off":
        return None
    value = proof_header(request, status.HTTP_400_BAD_REQUEST) if request is not None else None
    if value is None:
        if current == "required":
            raise DPoPRequired()
        return None
    return verify_request(request, value, http_status=status.HTTP_400_BAD_REQUEST).jkt
