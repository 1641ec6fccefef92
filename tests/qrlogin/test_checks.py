"""System checks: ids and the settings they report."""

import pytest
from django.core.checks import run_checks
from django.test import override_settings


def test_system_checks_report_bad_settings():
    with override_settings(QRLOGIN={"QR_TTL": 0, "VERIFICATION": "emoji", "TYPO": 1}):
        ids = {m.id for m in run_checks()}
    assert {"qrlogin.E002", "qrlogin.E003", "qrlogin.W001"} <= ids
    assert not {m.id for m in run_checks()} & {"qrlogin.E002", "qrlogin.E003", "qrlogin.W001"}


def test_deploy_checks():
    locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=locmem):
        assert "qrlogin.W002" in {m.id for m in run_checks(include_deployment_checks=True)}
    with override_settings(QRLOGIN={"REQUIRE_SAME_NETWORK": True}):
        assert "qrlogin.W003" in {m.id for m in run_checks(include_deployment_checks=True)}
    with override_settings(
        QRLOGIN={"REQUIRE_SAME_NETWORK": True, "TRUSTED_PROXIES": ["10.0.0.0/8"]}
    ):
        assert "qrlogin.W003" not in {m.id for m in run_checks(include_deployment_checks=True)}


def test_checks_for_throttle_rates_and_proxies():
    bad = {"THROTTLE_RATES": {"scan": "lots"}, "TRUSTED_PROXIES": ["not-an-ip"]}
    with override_settings(QRLOGIN=bad):
        ids = {m.id for m in run_checks()}
    assert {"qrlogin.E005", "qrlogin.E006"} <= ids


@pytest.mark.parametrize(
    "issuer",
    ["qrlogin_accounts.issuers.no_such_function", "no_such_module.issue", "qrlogin.conf.DEFAULTS"],
)
def test_a_token_issuer_that_cannot_be_used_is_reported(issuer):
    with override_settings(QRLOGIN={"TOKEN_ISSUER": issuer}):
        messages = {m.id: m.msg for m in run_checks()}
    assert "qrlogin.E007" in messages
    assert issuer in messages["qrlogin.E007"]


def test_a_mobile_authentication_class_that_cannot_be_imported_is_reported():
    bad = ["rest_framework.authentication.NoSuchAuthentication"]
    with override_settings(QRLOGIN={"MOBILE_AUTHENTICATION_CLASSES": bad}):
        ids = {m.id for m in run_checks()}
    assert "qrlogin.E004" in ids


def test_the_default_issuer_and_authentication_pass():
    ids = {m.id for m in run_checks()}
    assert not ids & {"qrlogin.E004", "qrlogin.E007"}


@pytest.mark.parametrize(
    "bad",
    [
        {"ANDROID_APPS": [{"package_name": "com.example"}]},
        {"ANDROID_APPS": ["com.example"]},
        {"ANDROID_APPS": [{"package_name": "x", "sha256_cert_fingerprints": "AB:CD"}]},
        {"APPLE_APP_IDS": "TEAM.com.example"},
        {"APPLE_APP_IDS": [""]},
    ],
)
def test_app_link_settings_of_the_wrong_shape_are_reported(bad):
    with override_settings(QRLOGIN=bad):
        assert "qrlogin.E009" in {m.id for m in run_checks()}
