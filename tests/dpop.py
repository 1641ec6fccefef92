"""A device key that makes DPoP proofs (RFC 9449), as a phone or a desktop client would."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from qrlogin_accounts import dpop

TESTSERVER = "http://testserver"


class DeviceKey:
    """A P-256 key (ES256), or an Ed25519 key (EdDSA) with ``kind="ed25519"``."""

    def __init__(self, kind: str = "p256") -> None:
        if kind == "ed25519":
            self.private = ed25519.Ed25519PrivateKey.generate()
            self.alg = "EdDSA"
            self.jwk = OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.alg = "ES256"
            self.jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)

    @property
    def thumbprint(self) -> str:
        return dpop.thumbprint(self.jwk)

    def proof(
        self,
        method: str,
        url: str,
        token: str | None = None,
        *,
        iat: float | None = None,
        jti: str | None = None,
        nonce: str | None = None,
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
    ) -> str:
        """A proof of ``method url`` (with ``ath`` for ``token``); overrides go last."""
        if url.startswith("/"):
            url = TESTSERVER + url
        body: dict[str, Any] = {
            "jti": jti or secrets.token_urlsafe(16),
            "htm": method,
            "htu": url,
            "iat": int(time.time() if iat is None else iat),
        }
        if token is not None:
            body["ath"] = ath(token)
        if nonce is not None:
            body["nonce"] = nonce
        body.update(claims or {})
        headers = {"typ": "dpop+jwt", "jwk": self.jwk, **(header or {})}
        return jwt.encode(body, self.private, algorithm=self.alg, headers=headers)


def ath(token: str) -> str:
    digest = hashlib.sha256(token.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def dpop_headers(key: DeviceKey, method: str, path: str, token: str, device_id: str) -> dict:
    """Test-client headers of a DPoP-authenticated request."""
    return {
        "HTTP_AUTHORIZATION": f"DPoP {token}",
        "HTTP_DPOP": key.proof(method, path, token),
        "HTTP_X_DEVICE_ID": device_id,
    }
