"""Fixtures of the security suite (the shared ones are in ``tests/conftest.py``)."""

import pytest

import qrlogin.tokens
import qrlogin_accounts.tokens
from tests.security.support import SecretRecorder


@pytest.fixture
def recorded(monkeypatch) -> SecretRecorder:
    """Record every raw secret generated from now on: PC secrets, temp tokens, pairing codes
    and device tokens, wherever they are created (API, pages, token login)."""
    recorder = SecretRecorder()

    def spy(module, name, into):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            value = original(*args, **kwargs)
            into.append(value)
            return value

        monkeypatch.setattr(module, name, wrapper)

    spy(qrlogin.tokens, "new_secret", recorder.pc_secrets_and_temp_tokens)
    spy(qrlogin.tokens, "new_user_code", recorder.user_codes)
    spy(qrlogin_accounts.tokens, "generate_token", recorder.device_tokens)
    return recorder
