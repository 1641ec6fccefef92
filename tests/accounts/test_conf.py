import pytest
from django.core.checks import Error, Warning
from django.test import override_settings

from qrlogin_accounts.checks import check_accounts_settings
from qrlogin_accounts.conf import accounts_settings
from qrlogin_accounts.throttling import parse_rate


def test_defaults():
    assert accounts_settings.TOKEN_TTL == 30 * 24 * 3600
    assert accounts_settings.THROTTLE_RATES == {
        "token_login_ip": "20/min",
        "token_login_username": "5/min",
        "device_create": "10/day",
    }
    assert accounts_settings.DEVICE_IDLE_TTL == 90 * 24 * 3600


def test_read_at_use_time():
    with override_settings(ACCOUNTS={"TOKEN_TTL": 5}):
        assert accounts_settings.TOKEN_TTL == 5
    assert accounts_settings.TOKEN_TTL == 30 * 24 * 3600


def test_throttle_rates_merge_and_off():
    with override_settings(ACCOUNTS={"THROTTLE_RATES": {"token_login_ip": None}}):
        assert accounts_settings.THROTTLE_RATES == {
            "token_login_ip": None,
            "token_login_username": "5/min",
            "device_create": "10/day",
        }
    with override_settings(ACCOUNTS={"THROTTLE_RATES": None}):
        assert accounts_settings.THROTTLE_RATES is None


def test_unknown_attribute():
    with pytest.raises(AttributeError):
        accounts_settings.NOPE  # noqa: B018


def test_defaults_are_not_shared_mutable():
    accounts_settings.THROTTLE_RATES["token_login_ip"] = "1/s"  # noqa: S105  (a throttle scope)
    assert accounts_settings.THROTTLE_RATES["token_login_ip"] == "20/min"  # noqa: S105  (a throttle scope)


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("5/min", (5, 60)), ("2/s", (2, 1)), ("1/hour", (1, 3600)), (None, (None, None))],
)
def test_parse_rate(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["5", "x/min", "5/week", "5/", "-1/min"])
def test_parse_rate_invalid(rate):
    with pytest.raises(ValueError):
        parse_rate(rate)


def test_checks_pass_by_default():
    assert check_accounts_settings() == []


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ({"TOKN_TTL": 1}, ["qrlogin_accounts.W001"]),
        ({"TOKEN_TTL": 0}, ["qrlogin_accounts.E002"]),
        ({"TOKEN_TTL": "1d"}, ["qrlogin_accounts.E002"]),
        ({"THROTTLE_RATES": ["5/min"]}, ["qrlogin_accounts.E003"]),
        ({"THROTTLE_RATES": {"token_login_ip": "lots"}}, ["qrlogin_accounts.E004"]),
        ({"LAST_USED_UPDATE_INTERVAL": -1}, ["qrlogin_accounts.E005"]),
        ({"DEVICE_IDLE_TTL": 0}, ["qrlogin_accounts.E006"]),
        ({"DEVICE_IDLE_TTL": "90d"}, ["qrlogin_accounts.E006"]),
        ({"DEVICE_IDLE_TTL": None}, []),
        ("nope", ["qrlogin_accounts.E001"]),
    ],
)
def test_checks_catch_mistakes(value, ids):
    with override_settings(ACCOUNTS=value):
        messages = check_accounts_settings()
    assert [m.id for m in messages] == ids
    assert all(isinstance(m, Error | Warning) for m in messages)
