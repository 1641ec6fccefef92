"""Threat 9: timing attacks, and tokens at rest.

A database dump (a backup left in a bucket, a read-only SQL injection elsewhere on the site, a
curious DBA) should not log anyone in. A remote attacker should not learn a secret one
character at a time from response times.

Defence: only digests are stored (SHA-256 of 256-bit secrets; pairing codes, having only 40
bits, as an HMAC keyed by SECRET_KEY); presented secrets are digested first and compared with
``constant_time_compare``; raw secrets never reach SQL (lookups go by public id or by a short
non-secret prefix).
"""

import hashlib

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

import qrlogin.tokens
import qrlogin_accounts.authentication
import qrlogin_accounts.tokens
from qrlogin.models import QRLoginSession
from qrlogin_accounts.models import DeviceToken
from tests.security.support import assert_error, full_logins

pytestmark = pytest.mark.django_db


def dump_database() -> str:
    """Every row of every table, as text (what a backup would hold)."""
    lines = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(include_views=False):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            lines.extend(f"{table}: {row!r}" for row in cursor.fetchall())
    return "\n".join(lines)


def test_a_database_dump_holds_no_usable_secret(clock, recorded):
    held = full_logins(clock)
    assert len(recorded.device_tokens) == 2  # the phone's and the desktop's
    assert len(recorded.user_codes) >= 6 and len(recorded.pc_secrets_and_temp_tokens) >= 10
    dump = dump_database()
    assert held["phone_token"] in recorded.all() and held["desktop"]["token"] in recorded.all()
    assert recorded.found_in(dump) == []
    # Pairing codes are short: a plain hash would fall to a 2**40 brute force, so it is keyed.
    for code in recorded.user_codes:
        assert hashlib.sha256(code.encode()).hexdigest() not in dump
    # What is stored is the digest (useful to the verifier only).
    digests = {hashlib.sha256(s.encode()).hexdigest() for s in recorded.pc_secrets_and_temp_tokens}
    for row in QRLoginSession.objects.all():
        assert row.secret_digest in digests
        assert not row.temp_token_digest or row.temp_token_digest in digests
    for token in recorded.device_tokens:
        assert DeviceToken.objects.filter(
            digest=hashlib.sha256(token.encode()).hexdigest()
        ).exists()


def test_browser_sessions_keep_no_live_secret(clock, recorded):
    """Django's session rows are part of the dump; decode them too. A browser's PC proof lives
    in its session while its QR is live; completion forgets it. What may stay is the secret of
    a QR that is over (the page remembers its last few), which opens nothing."""
    full_logins(clock)
    for row in Session.objects.all():
        data = repr(row.get_decoded())
        for secret in recorded.found_in(data):
            session = QRLoginSession.objects.get(secret_digest=qrlogin.tokens.digest(secret))
            assert not session.is_live, f"a live QR's secret is in a session row: {session}"


def test_raw_secrets_never_reach_sql(pc, phone, recorded):
    """Lookups go by public id (sessions) or by a non-secret prefix (device tokens): no index
    lookup on a secret whose timing could leak it, and nothing secret in query logs."""
    with CaptureQueriesContext(connection) as queries:
        temp = phone.scan(pc.id).json()["temp_token"]
        pc.status()
        phone.confirm(pc.id, temp)
        token = pc.complete({"device_id": "laptop-9"}).json()["token"]
        APIClient().get(
            "/accounts/api/me/", HTTP_AUTHORIZATION=f"Token {token}", HTTP_X_DEVICE_ID="laptop-9"
        )
    sql = "\n".join(q["sql"] for q in queries.captured_queries)
    for secret in (pc.data["secret"], temp, token, phone.token, pc.data["user_code"]):
        assert secret not in sql
    assert qrlogin_accounts.tokens.token_prefix(token) in sql  # the lookup prefix, by design


class TestConstantTimeComparison:
    @pytest.fixture
    def compared(self, monkeypatch) -> list[tuple[str, str]]:
        calls: list[tuple[str, str]] = []
        for module in (qrlogin.tokens, qrlogin_accounts.tokens, qrlogin_accounts.authentication):
            original = module.constant_time_compare

            def spy(a, b, _original=original):
                calls.append((a, b))
                return _original(a, b)

            monkeypatch.setattr(module, "constant_time_compare", spy)
        return calls

    @staticmethod
    def sha256(value: str) -> str:
        return hashlib.sha256(value.encode()).hexdigest()

    def test_a_wrong_pc_secret(self, pc, compared):
        assert_error(pc.status(secret="x" * 43), 404, "not_found")
        stored = QRLoginSession.objects.get(public_id=pc.id).secret_digest
        assert compared == [(self.sha256("x" * 43), stored)]

    def test_a_wrong_temp_token(self, pc, phone, compared):
        phone.scan(pc.id)
        stored = QRLoginSession.objects.get(public_id=pc.id).temp_token_digest
        compared.clear()
        assert_error(phone.confirm(pc.id, "x" * 43), 403, "invalid_temp_token")
        assert (self.sha256("x" * 43), stored) in compared

    def test_a_wrong_device_token_with_a_real_prefix(self, phone, compared):
        forged = phone.token[:8] + "A" * (len(phone.token) - 8)
        client = APIClient()
        client.credentials(
            HTTP_AUTHORIZATION=f"Token {forged}", HTTP_X_DEVICE_ID=phone.device.device_id
        )
        assert_error(client.get("/accounts/api/me/"), 401, "authentication_failed")
        stored = DeviceToken.objects.get(device=phone.device).digest
        assert compared == [(self.sha256(forged), stored)]

    def test_a_wrong_device_id(self, phone, compared):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {phone.token}", HTTP_X_DEVICE_ID="other")
        assert_error(client.get("/accounts/api/me/"), 401, "device_mismatch")
        assert ("other", phone.device.device_id) in compared

    def test_a_wrong_verification_number(self, settings, pc, phone, compared):
        settings.QRLOGIN = {"VERIFICATION": "number"}
        temp = phone.scan(pc.id).json()["temp_token"]
        number = QRLoginSession.objects.get(public_id=pc.id).verification_code
        wrong = f"{(int(number) + 1) % 100:02d}"
        compared.clear()
        response = phone.confirm(pc.id, temp, verification_code=wrong)
        assert_error(response, 403, "wrong_verification_code")
        assert (wrong, number) in compared
