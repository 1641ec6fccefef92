"""Threat 3: guessing session ids and pairing codes.

A guessed id or pairing code lets the guesser's phone scan somebody else's QR (and so log that
stranger's computer into the guesser's account, or block it). Ids carry 192 bits from
``secrets``; pairing codes only 40 bits, so they are throttled per phone and per IP: within
a code's lifetime (QR_TTL) guessing is hopeless. The arithmetic is in docs/security.md.
"""

import base64
import secrets

import pytest
from django.test import Client

from qrlogin import tokens
from qrlogin.conf import DEFAULTS
from tests.conftest import PHONE_IP
from tests.security.support import PhoneBrowser, assert_error, session_row, unchanged

pytestmark = pytest.mark.django_db

SCAN = "/qrlogin/api/scan/"


def wrong_code(right: str) -> str:
    """A well-formed pairing code that is not ``right``."""
    while (guess := tokens.new_user_code()) == right.replace("-", ""):
        pass
    return tokens.format_user_code(guess)


class TestIdsAndSecrets:
    def test_ids_and_secrets_come_from_secrets_with_at_least_128_bits(self, monkeypatch, make_pc):
        drawn: list[tuple[int, str]] = []
        original = secrets.token_urlsafe

        def spy(nbytes=None):
            value = original(nbytes)
            drawn.append((nbytes, value))
            return value

        monkeypatch.setattr(secrets, "token_urlsafe", spy)
        pc = make_pc()
        by_value = {value: nbytes for nbytes, value in drawn}
        assert by_value[pc.id] * 8 >= 128
        assert by_value[pc.data["secret"]] * 8 >= 128

    def test_ids_are_unique_url_safe_and_long(self, make_pc):
        ids = {make_pc(ip=f"203.0.113.{i}").id for i in range(40)}
        assert len(ids) == 40
        for public_id in ids:
            raw = base64.urlsafe_b64decode(public_id + "=" * (-len(public_id) % 4))
            assert len(raw) * 8 >= 128

    def test_guessed_ids_find_nothing(self, phone, pc):
        with unchanged():
            for _ in range(10):
                guess = secrets.token_urlsafe(24)
                assert_error(phone.scan(guess), 404, "not_found")
                assert_error(phone.confirm(guess, "x" * 43), 404, "not_found")


class TestPairingCodes:
    """The default rates (no QRLOGIN setting): 5/min per phone, 10/min per IP."""

    def test_the_numbers_the_docs_rely_on(self):
        assert len(tokens.USER_CODE_ALPHABET) == 32 == len(set(tokens.USER_CODE_ALPHABET))
        assert tokens.USER_CODE_LENGTH == 8  # 32**8 == 2**40
        assert DEFAULTS["THROTTLE_RATES"]["user_code"] == "5/min"
        assert DEFAULTS["THROTTLE_RATES"]["user_code_ip"] == "10/min"
        assert DEFAULTS["QR_TTL"] == 120

    def test_per_phone_the_sixth_guess_in_a_minute_is_refused(self, clock, phone, pc):
        right = pc.data["user_code"]
        with unchanged():
            for _ in range(5):
                assert_error(phone.post(SCAN, {"code": wrong_code(right)}), 404, "not_found")
            # Refused before the lookup: even the right code learns nothing now.
            refused = phone.post(SCAN, {"code": right})
        assert_error(refused, 429, "throttled")
        assert 0 < int(refused["Retry-After"]) <= 60
        clock.shift(60)
        assert phone.post(SCAN, {"code": right}).status_code == 200

    def test_form_encoded_guesses_are_counted_too(self, phone, pc):
        right = pc.data["user_code"]
        for _ in range(5):
            response = phone.client.post(SCAN, {"code": wrong_code(right)}, REMOTE_ADDR="1.2.3.4")
            assert_error(response, 404, "not_found")
        with unchanged():
            refused = phone.client.post(SCAN, {"code": right}, REMOTE_ADDR="1.2.3.4")
        assert_error(refused, 429, "throttled")

    def test_per_ip_new_phones_do_not_help(self, make_phone, pc):
        right = pc.data["user_code"]
        for _ in range(10):
            assert_error(make_phone().post(SCAN, {"code": wrong_code(right)}), 404, "not_found")
        fresh = make_phone()
        with unchanged():
            refused = fresh.post(SCAN, {"code": right})
        assert_error(refused, 429, "throttled")
        assert int(refused["Retry-After"]) > 0
        # Another network is not locked out by this one.
        assert fresh.post(SCAN, {"code": right}, ip="198.51.100.9").status_code == 200

    def test_the_guessers_lockout_does_not_lock_out_the_owner(self, make_phone, pc):
        guesser, owner = make_phone(), make_phone()
        right = pc.data["user_code"]
        for _ in range(6):
            guesser.post(SCAN, {"code": wrong_code(right)}, ip="198.51.100.9")
        assert guesser.post(SCAN, {"code": right}, ip="198.51.100.9").status_code == 429
        assert owner.post(SCAN, {"code": right}).status_code == 200

    def test_refused_guesses_spend_none_of_the_networks_budget(self, make_phone, pc):
        """A lookup counts in all its scopes or in none: refused per phone, it leaves the
        network's 10 to the other phones on it."""
        guesser, right = make_phone(), pc.data["user_code"]
        answers = [guesser.post(SCAN, {"code": wrong_code(right)}).status_code for _ in range(20)]
        assert answers == [404] * 5 + [429] * 15
        for _ in range(4):
            assert_error(make_phone().post(SCAN, {"code": wrong_code(right)}), 404, "not_found")
        assert make_phone().post(SCAN, {"code": right}).status_code == 200  # the network's 10th
        assert_error(make_phone().post(SCAN, {"code": right}), 429, "throttled")

    def test_a_code_is_only_good_while_its_qr_is_live(self, clock, phone, pc):
        clock.shift(120)
        with unchanged():
            response = phone.post(SCAN, {"code": pc.data["user_code"]})
        assert_error(response, 404, "not_found")

    def test_a_guessed_code_of_a_scanned_qr_is_useless(self, make_phone, pc):
        owner, guesser = make_phone(), make_phone()
        assert owner.post(SCAN, {"code": pc.data["user_code"]}).status_code == 200
        with unchanged():
            response = guesser.post(SCAN, {"code": pc.data["user_code"]})
        assert_error(response, 409, "invalid_state")
        assert session_row(pc.id).user_id == owner.user.pk

    def test_anonymous_guessers_are_refused(self, client, pc):
        """Anonymous guesses are refused outright: a guesser needs an account and a device."""
        with unchanged():
            response = client.post(
                SCAN, {"code": pc.data["user_code"]}, content_type="application/json"
            )
        assert_error(response, 401, "not_authenticated")


class TestPairingCodesOnThePhonePage:
    """The same guessing through ``/qrlogin/code/``, the page for phone browsers."""

    def post(self, browser, code: str, ip: str = PHONE_IP):
        csrf = browser.client.get("/qrlogin/code/").cookies["csrftoken"].value
        return browser.client.post(
            "/qrlogin/code/", {"code": code, "csrfmiddlewaretoken": csrf}, REMOTE_ADDR=ip
        )

    def test_per_phone_browser(self, phone, pc):
        browser = PhoneBrowser(phone.user)
        right = pc.data["user_code"]
        with unchanged():
            for _ in range(5):
                assert self.post(browser, wrong_code(right)).status_code == 404
            refused = self.post(browser, right)
        assert refused.status_code == 429
        assert "no-store" in refused["Cache-Control"]

    def test_the_api_and_the_page_share_the_budget(self, phone, pc):
        right = pc.data["user_code"]
        for _ in range(10):  # the per-IP budget, spent by ten browser sessions of one network
            other = PhoneBrowser(phone.user)
            assert self.post(other, wrong_code(right)).status_code == 404
        fresh = PhoneBrowser(phone.user)
        with unchanged():
            refused = self.post(fresh, right)
            api = phone.post(SCAN, {"code": right})  # the app on the same network
        assert refused.status_code == 429
        assert_error(api, 429, "throttled")

    def test_a_right_code_only_redirects(self, phone, pc):
        browser = PhoneBrowser(phone.user)
        with unchanged():  # nothing is scanned until the person confirms on the next page
            found = self.post(browser, pc.data["user_code"])
        assert found.status_code == 302
        assert found["Location"] == f"/qrlogin/s/{pc.id}/"

    def test_without_csrf_or_login(self, phone, pc):
        browser = PhoneBrowser(phone.user)
        with unchanged():
            forged = browser.client.post("/qrlogin/code/", {"code": pc.data["user_code"]})
            anonymous = Client().post("/qrlogin/code/", {"code": pc.data["user_code"]})
        assert forged.status_code == 403
        assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
