"""qrlogin alone: no qrlogin_accounts, phones on DRF tokens, no token issuer."""

import sys

import pytest
from django.apps import apps
from django.core import checks

from qrlogin.models import QRLoginSession


def test_qrlogin_accounts_is_neither_installed_nor_imported():
    assert apps.is_installed("qrlogin")
    assert not apps.is_installed("qrlogin_accounts")
    assert not [name for name in sys.modules if name.split(".")[0] == "qrlogin_accounts"]


def test_system_checks_pass():
    messages = checks.run_checks(include_deployment_checks=False)
    assert [m for m in messages if m.level >= checks.WARNING] == []


def login_until_confirmed(pc, phone) -> dict:
    created = pc.post("/qrlogin/api/sessions/", {}, format="json")
    assert created.status_code == 201, created.content
    session = created.json()
    scan = phone.post("/qrlogin/api/scan/", {"qr": session["qr_url"]}, format="json")
    assert scan.status_code == 200, scan.content
    confirm = phone.post(
        "/qrlogin/api/confirm/",
        {"session": scan.json()["session"], "temp_token": scan.json()["temp_token"]},
        format="json",
    )
    assert confirm.json() == {"status": "confirmed"}
    return session


@pytest.mark.django_db
def test_api_complete_asking_for_a_device_token_says_there_is_no_issuer(pc, phone):
    session = login_until_confirmed(pc, phone)
    complete = f"/qrlogin/api/sessions/{session['id']}/complete/"

    response = pc.post(
        complete,
        {"device_id": "desktop-1", "device_type": "pc"},
        format="json",
        HTTP_X_QRLOGIN_SECRET=session["secret"],
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "This site does not issue device tokens; complete from a browser.",
        "code": "token_issuer_unavailable",
    }
    # Nothing was spent: the same PC still completes as a browser login.
    assert QRLoginSession.objects.get(public_id=session["id"]).status == "confirmed"
    response = pc.post(complete, {}, format="json", HTTP_X_QRLOGIN_SECRET=session["secret"])
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "completed"
    assert pc.get("/").status_code == 200  # logged in: the private page answers
