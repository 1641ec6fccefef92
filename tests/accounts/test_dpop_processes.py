"""A DPoP proof used on one server process is refused by another (the replay store is shared).

Two real server processes stand for two workers behind one load balancer: the same Host
header reaches both, so a proof's ``htu`` fits either, and only the replay store can tell that
the second request replays the first. Both stores are tried: Redis (the cache's atomic
``add()``) and the database (a unique index), each read by separate processes.
"""

import pytest
from django.conf import settings

from qrlogin_accounts.models import DPoPProofUse
from qrlogin_accounts.tokens import DPOP_SCHEME
from tests.dpop import DeviceKey
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.processes import Server, needs_postgres_and_redis

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    needs_postgres_and_redis,
]

HOST = "127.0.0.1"  # what the load balancer would forward to every worker
ORIGIN = f"http://{HOST}"


@pytest.fixture(params=["cache", "database"])
def servers(request, monkeypatch):
    monkeypatch.setenv("TEST_DPOP_REPLAY_STORE", request.param)
    redis_url = settings.CACHES["default"]["LOCATION"]
    a, b = Server(redis_url), Server(redis_url)
    yield a, b, request.param
    a.stop()
    b.stop()


def test_a_proof_replayed_to_another_process_is_refused(servers):
    a, b, store = servers
    key = DeviceKey()
    user = UserFactory()
    status, body = a.call(
        "POST",
        "/accounts/api/token/",
        {"username": user.username, "password": DEFAULT_PASSWORD, "device_id": "phone-x",
         "device_type": "android"},
        {"Host": HOST, "DPoP": key.proof("POST", f"{ORIGIN}/accounts/api/token/")},
    )  # fmt: skip
    assert status == 201, body
    assert body["token_type"] == DPOP_SCHEME
    token = body["token"]

    proof = key.proof("GET", f"{ORIGIN}/accounts/api/me/", token)
    headers = {"Host": HOST, "Authorization": f"DPoP {token}", "X-Device-ID": "phone-x"}
    status, body = a.call("GET", "/accounts/api/me/", headers={**headers, "DPoP": proof})
    assert status == 200, body
    status, body = b.call("GET", "/accounts/api/me/", headers={**headers, "DPoP": proof})
    assert (status, body["code"]) == (401, "invalid_dpop_proof"), body

    # And the other way round, with a fresh proof first used on b.
    proof = key.proof("GET", f"{ORIGIN}/accounts/api/me/", token)
    assert b.call("GET", "/accounts/api/me/", headers={**headers, "DPoP": proof})[0] == 200
    assert a.call("GET", "/accounts/api/me/", headers={**headers, "DPoP": proof})[0] == 401
    # The servers used the store they were given: 3 proofs recorded in the database, or none.
    assert DPoPProofUse.objects.count() == (3 if store == "database" else 0)
