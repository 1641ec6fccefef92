"""/.well-known/ files for universal links (iOS) and App Links (Android), from two settings."""

import pytest

APPLE = "/.well-known/apple-app-site-association"
ANDROID = "/.well-known/assetlinks.json"
FINGERPRINT = ":".join(["AB"] * 32)


def test_unset_they_are_not_found(client):
    assert client.get(APPLE).status_code == 404
    assert client.get(ANDROID).status_code == 404


def test_apple_app_site_association_claims_the_qr_urls_only(client, settings):
    settings.QRLOGIN = {"APPLE_APP_IDS": ["ABCDE12345.com.example.app"]}
    response = client.get(APPLE)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "public" in response["Cache-Control"]
    assert response.json() == {
        "applinks": {
            "details": [
                {
                    "appIDs": ["ABCDE12345.com.example.app"],
                    "components": [{"/": "/qrlogin/s/*", "comment": "QR login"}],
                    "paths": ["/qrlogin/s/*"],
                }
            ]
        }
    }


def test_assetlinks_names_each_app_and_its_certificate(client, settings):
    settings.QRLOGIN = {
        "ANDROID_APPS": [
            {"package_name": "com.example.app", "sha256_cert_fingerprints": [FINGERPRINT]}
        ]
    }
    response = client.get(ANDROID)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == [
        {
            "relation": ["delegate_permission/common.handle_all_urls"],
            "target": {
                "namespace": "android_app",
                "package_name": "com.example.app",
                "sha256_cert_fingerprints": [FINGERPRINT],
            },
        }
    ]


@pytest.mark.django_db
def test_the_claimed_path_is_where_the_qr_points(client, settings):
    settings.QRLOGIN = {"APPLE_APP_IDS": ["ABCDE12345.com.example.app"]}
    qr_url = client.post("/qrlogin/api/sessions/", {}, content_type="application/json").json()[
        "qr_url"
    ]
    claimed = client.get(APPLE).json()["applinks"]["details"][0]["components"][0]["/"]
    assert qr_url.removeprefix("http://testserver").startswith(claimed.removesuffix("*"))


def test_only_get(client, settings):
    settings.QRLOGIN = {"APPLE_APP_IDS": ["ABCDE12345.com.example.app"]}
    assert client.post(APPLE).status_code == 405
