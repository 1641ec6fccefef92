"""Pairing codes are unique among live sessions, with one INSERT per create."""

import itertools
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from qrlogin import tokens
from qrlogin.models import QRLoginSession


def draws(monkeypatch, *codes: str) -> None:
    """``new_user_code`` returns these, in order."""
    supply = itertools.chain(codes)
    monkeypatch.setattr(tokens, "new_user_code", lambda: next(supply))


def start() -> QRLoginSession:
    return QRLoginSession.objects.start(pc_ip="10.0.0.1")


@pytest.mark.django_db(transaction=True)
def test_a_create_is_one_statement_in_autocommit(django_assert_num_queries):
    with django_assert_num_queries(1):
        start()


@pytest.mark.django_db(transaction=True)
def test_a_code_a_live_session_shows_is_drawn_again(monkeypatch):
    draws(monkeypatch, "AAAABBBB", "AAAABBBB", "CCCCDDDD")
    first, second = start(), start()
    assert (first.user_code, second.user_code) == ("AAAABBBB", "CCCCDDDD")
    # The refused INSERT left the connection usable, and the lookups find each.
    assert QRLoginSession.objects.get_by_user_code("CCCC-DDDD") == second.session
    assert QRLoginSession.objects.get_by_user_code("AAAA-BBBB") == first.session


@pytest.mark.django_db
def test_inside_a_transaction_a_clash_rolls_back_to_a_savepoint(monkeypatch):
    draws(monkeypatch, "AAAABBBB", "AAAABBBB", "CCCCDDDD")
    start()
    assert start().user_code == "CCCCDDDD"
    assert QRLoginSession.objects.count() == 2  # the caller's transaction is intact


@pytest.mark.django_db
def test_a_finished_session_frees_its_code(monkeypatch, actor):
    draws(monkeypatch, "AAAABBBB", "AAAABBBB")
    first = start()
    first.session.cancel(actor)
    assert start().user_code == "AAAABBBB"


@pytest.mark.django_db
def test_a_session_past_its_deadline_not_yet_expired_still_holds_its_code(monkeypatch, clock):
    draws(monkeypatch, "AAAABBBB", "AAAABBBB", "CCCCDDDD")
    start()
    clock.shift(10_000)
    assert start().user_code == "CCCCDDDD"


@pytest.mark.django_db
def test_a_backend_without_partial_indexes_asks_first(monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(connection.features, "supports_partial_indexes", False)
    draws(monkeypatch, "AAAABBBB", "AAAABBBB", "CCCCDDDD")
    start()
    with django_assert_num_queries(3):  # a clash, a free code, the INSERT
        assert start().user_code == "CCCCDDDD"


@pytest.mark.django_db
def test_no_free_code_is_an_error_not_a_loop(monkeypatch):
    monkeypatch.setattr(tokens, "new_user_code", lambda: "AAAABBBB")
    start()
    with pytest.raises(Exception, match="No free pairing code"):
        start()


@pytest.mark.django_db
def test_another_constraint_is_not_taken_for_a_code_clash(monkeypatch):
    monkeypatch.setattr(tokens, "new_session_id", lambda: "x" * 22)
    start()
    with pytest.raises(IntegrityError) as refused:
        start()
    assert "No free pairing code" not in str(refused.value)


@pytest.mark.django_db(transaction=True)
def test_the_migration_expires_live_rows_past_their_deadline_before_the_constraint():
    """Rows the old check allowed (a stale pending row sharing a newer row's code) migrate;
    a stale row with a code of its own is left for its next read (or the purge)."""
    executor = MigrationExecutor(connection)
    executor.migrate([("qrlogin", "0001_initial")])
    old = executor.loader.project_state([("qrlogin", "0001_initial")]).apps
    model = old.get_model("qrlogin", "QRLoginSession")
    now = timezone.now()
    common = {"secret_digest": "s", "user_code_digest": "same", "created_at": now}
    stale = model.objects.create(public_id="a" * 22, expires_at=now - timedelta(days=1), **common)
    live = model.objects.create(public_id="b" * 22, expires_at=now + timedelta(days=1), **common)
    alone = model.objects.create(
        public_id="c" * 22,
        expires_at=now - timedelta(days=1),
        **{**common, "user_code_digest": "alone"},
    )
    try:
        executor = MigrationExecutor(connection)
        executor.migrate([("qrlogin", "0003_live_user_code_unique")])
        stale.refresh_from_db()
        live.refresh_from_db()
        alone.refresh_from_db()
        assert (stale.status, live.status, alone.status) == ("expired", "pending", "pending")
        kinds = old.get_model("qrlogin", "QRLoginEvent").objects.filter(session_id=stale.pk)
        assert [e.kind for e in kinds] == ["expired"]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
