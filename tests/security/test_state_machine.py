"""The transition methods against random interleavings: a stateful property test.

Hypothesis drives ``QRLoginSession``'s methods (scan, confirm, deny, cancel, complete) with
several phones (two users, one with two devices, one also in a phone browser) and several PCs,
moves the clock, deactivates and reactivates accounts, and feeds confirm/deny every kind of
temp token (the right one, a retired one, another session's, a forged one) and number.

Races are in the model too: every request's read of a row leaves a rival copy read at the
same moment, and a later step may act on that stale copy, as the request that read the row
before the winner wrote does (the losing side of a race, made to happen on any database).

A reference model predicts each outcome (success, or which refusal). A transition on a stale
copy may be refused for whatever its old state says (it lost the race), but must never succeed
where a fresh read would be refused. After every step the invariants are checked against the
database:

- at most one completion per session, and a credential only for a completed session;
- no way out of a terminal state;
- only the scanning device confirms (every confirm event is by the session's scanner);
- no credential is issued without a confirm by the account's owner, on that session.

Each example runs in a savepoint that is rolled back at its end; time is a time_machine
traveller shifted by the rules (nothing sleeps).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from qrlogin import exceptions
from qrlogin.actors import Actor
from qrlogin.models import LIVE_STATES, TERMINAL_STATES, QRLoginEvent, QRLoginSession
from qrlogin_accounts.issuers import issue_device_token
from qrlogin_accounts.models import DeviceToken

pytestmark = pytest.mark.django_db

QR_TTL, CONFIRM_TTL, COMPLETE_TTL = 120, 60, 60
PC = Actor(device_key="pc", device_name="PC", ip="203.0.113.10")


@dataclass
class Model:
    """What the session should be, as the reference model sees it."""

    pk: int
    status: str = "pending"
    deadline: float = 0.0  # seconds since the machine's epoch
    scanner: int | None = None  # index into Machine.phones
    temp: str | None = None  # the one temp token that works now
    temps: list[str] = field(default_factory=list)  # every temp token ever issued
    code: str = ""
    terminal_seen: str | None = None
    stale: QRLoginSession | None = None  # a copy read at an earlier step


class QRLoginMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.traveller = time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False)
        self.clock = self.traveller.start()
        self.now = 0.0
        self.overrides = None
        users = get_user_model().objects
        ann, bob = users.create(username="ann"), users.create(username="bob")
        self.users = [ann, bob]
        self.phones = [
            Actor(user=ann, device_key="device:1", device_name="Ann's phone"),
            Actor(user=ann, device_key="device:2", device_name="Ann's tablet"),
            Actor(user=bob, device_key="device:3", device_name="Bob's phone"),
            Actor(user=bob, device_key="session:bob-browser", device_name="Safari"),
        ]
        self.models: list[Model] = []
        self.issued: list[tuple[int, int]] = []  # (session pk, user pk) per credential
        self.number = False

    def teardown(self) -> None:
        if self.overrides is not None:
            self.overrides.disable()
        self.traveller.stop()
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    # Helpers ------------------------------------------------------------------------------

    def read(self, m: Model) -> QRLoginSession:
        """A fresh read, as each request does (the API reads the user with it)."""
        return QRLoginSession.objects.select_related("user").get(pk=m.pk)

    def target(self, m: Model, stale: bool) -> QRLoginSession:
        """The row a request acts on: a fresh read, or (stale) a copy read at an earlier step.

        Every fresh read leaves a rival copy behind, read at the same moment, for a later stale
        step: the request that loses the race.
        """
        if stale and m.stale is not None:
            copy, m.stale = m.stale, None
            return copy
        m.stale = self.read(m)
        return self.read(m)

    def effective(self, m: Model) -> str:
        if m.status in LIVE_STATES and self.now >= m.deadline:
            return "expired"
        return m.status

    def live(self, status: str) -> list[Model]:
        return [m for m in self.models if self.effective(m) == status]

    def settle(self, m: Model, status: str) -> None:
        m.status = status
        if status in TERMINAL_STATES:
            m.temp = None

    def require(self, m: Model, states: set[str]) -> type[Exception] | None:
        """The model's ``_require``: expiry first, then the state."""
        if self.effective(m) == "expired":
            self.settle(m, "expired")
            return exceptions.SessionExpired
        if m.status not in states:
            return exceptions.InvalidState
        return None

    def attempt(self, name: str, expected, action, stale: bool = False):
        """Run ``action``; return (succeeded, result, refusal class).

        Fresh: the outcome must be exactly the prediction. Stale: the copy may be refused for
        whatever its old state says (it lost a race), but a success must be one a fresh read
        would also get.
        """
        try:
            result, refused = action(), None
        except exceptions.TransitionError as exc:
            result, refused = None, type(exc)
        outcome = refused.__name__ if refused else "ok"
        event(f"{name}{' (stale)' if stale else ''}: {outcome}")
        if refused is None:
            assert expected is None, f"{name} succeeded; a fresh read predicts {expected}"
        elif not stale:
            assert refused is expected, f"{name} refused with {outcome}, predicted {expected}"
        return refused is None, result, refused

    def pick_token(self, m: Model, which: str) -> str:
        others = [t for o in self.models if o is not m for t in o.temps]
        if which == "current" and m.temp:
            return m.temp
        if which == "retired" and m.temps:
            return m.temps[0]
        if which == "other session's" and others:
            return others[-1]
        return "forged-" + "x" * 36

    # Setup and the world ----------------------------------------------------------------------

    @initialize(number=st.booleans(), pcs=st.integers(1, 3))
    def setup(self, number: bool, pcs: int) -> None:
        """Number matching on or off for this run, and the first PCs showing their QR."""
        self.number = number
        self.overrides = override_settings(QRLOGIN={"VERIFICATION": "number" if number else "none"})
        self.overrides.enable()
        for _ in range(pcs):
            self.start_pc()

    @rule()
    def start_pc(self) -> None:
        started = QRLoginSession.objects.start(pc_ip="203.0.113.10")
        self.models.append(Model(pk=started.session.pk, deadline=self.now + QR_TTL))

    @rule(seconds=st.sampled_from([0.5, 1, 5, 30, 59, 60, 61, 121]))
    def tick(self, seconds: float) -> None:
        self.clock.shift(seconds)
        self.now += seconds

    @rule(user=st.integers(0, 1), active=st.booleans())
    def set_active(self, user: int, active: bool) -> None:
        get_user_model().objects.filter(pk=self.users[user].pk).update(is_active=active)

    @precondition(lambda self: self.models)
    @rule(data=st.data())
    def read_for_later(self, data) -> None:
        """A request reads the row now and writes in a later step (it loses the race)."""
        m = data.draw(st.sampled_from(self.models))
        m.stale = self.read(m)

    # Rules: a random session, or one in the state the transition needs ---------------------

    @precondition(lambda self: self.models)
    @rule(data=st.data(), phone=st.integers(0, 3), stale=st.booleans())
    def scan_any(self, data, phone: int, stale: bool) -> None:
        self.scan(data.draw(st.sampled_from(self.models)), phone, stale)

    @precondition(lambda self: self.live("pending"))
    @rule(data=st.data(), phone=st.integers(0, 3))
    def scan_a_pending_one(self, data, phone: int) -> None:
        self.scan(data.draw(st.sampled_from(self.live("pending"))), phone)

    @precondition(lambda self: self.live("pending"))
    @rule(data=st.data(), phone=st.integers(0, 3))
    def approve(self, data, phone: int) -> None:
        """The happy path in one step: scan, then confirm by that phone with its token."""
        m = data.draw(st.sampled_from(self.live("pending")))
        self.scan(m, phone)
        if m.status == "scanned":
            self.decide(m, phone, m.temp, m.code or None, deny=False)

    @precondition(lambda self: self.live("scanned"))
    @rule(data=st.data(), deny=st.booleans())
    def rescan_during_a_decision(self, data, deny: bool) -> None:
        """The phone's confirm (or deny) has read the row; the same phone re-scans, which
        retires the temp token; then the in-flight request writes with the retired token."""
        m = data.draw(st.sampled_from(self.live("scanned")))
        retired = m.temp
        self.scan(m, m.scanner)  # leaves the copy read before it as the rival
        self.decide(m, m.scanner, retired, m.code or None, deny, stale=True)

    @precondition(lambda self: self.live("scanned"))
    @rule(data=st.data(), deny=st.booleans(), stale=st.booleans())
    def the_same_account_on_another_device_decides(self, data, deny: bool, stale: bool) -> None:
        """The temp token leaks to the account's other device, which tries to use it."""
        m = data.draw(st.sampled_from(self.live("scanned")))
        self.decide(m, m.scanner ^ 1, m.temp, m.code or None, deny, stale)

    @precondition(lambda self: self.models)
    @rule(data=st.data(), stale=st.booleans())
    def decide_any(self, data, stale: bool) -> None:
        self.draw_decision(data, data.draw(st.sampled_from(self.models)), stale)

    @precondition(lambda self: self.live("scanned"))
    @rule(data=st.data(), stale=st.booleans())
    def decide_a_scanned_one(self, data, stale: bool) -> None:
        self.draw_decision(data, data.draw(st.sampled_from(self.live("scanned"))), stale)

    @precondition(lambda self: self.models)
    @rule(data=st.data(), stale=st.booleans())
    def cancel(self, data, stale: bool) -> None:
        m = data.draw(st.sampled_from(self.models))
        expected = self.require(m, set(LIVE_STATES))
        ok, _, _ = self.attempt("cancel", expected, lambda: self.target(m, stale).cancel(PC), stale)
        if ok:
            self.settle(m, "cancelled")

    @precondition(lambda self: self.models)
    @rule(data=st.data(), with_token=st.booleans(), stale=st.booleans())
    def complete_any(self, data, with_token: bool, stale: bool) -> None:
        self.complete(data.draw(st.sampled_from(self.models)), with_token, stale)

    @precondition(lambda self: self.live("confirmed"))
    @rule(data=st.data(), with_token=st.booleans(), stale=st.booleans())
    def complete_a_confirmed_one(self, data, with_token: bool, stale: bool) -> None:
        self.complete(data.draw(st.sampled_from(self.live("confirmed"))), with_token, stale)

    # The transitions, with the model's prediction of each outcome -------------------------

    def scan(self, m: Model, phone: int, stale: bool = False) -> None:
        expected = self.require(m, {"pending", "scanned"})
        if expected is None and m.status == "scanned" and m.scanner != phone:
            expected = exceptions.InvalidState
        ok, result, _ = self.attempt(
            "scan", expected, lambda: self.target(m, stale).scan(self.phones[phone]), stale
        )
        if not ok:
            return
        m.temps.append(result.temp_token)
        m.temp = result.temp_token
        if m.status == "pending":
            m.status, m.scanner, m.deadline = "scanned", phone, self.now + CONFIRM_TTL
            m.code = QRLoginSession.objects.get(pk=m.pk).verification_code
            assert bool(m.code) == self.number

    def draw_decision(self, data, m: Model, stale: bool) -> None:
        """Confirm or deny, mostly by the scanner with its token (else nothing would pass)."""
        by_scanner = m.scanner is not None and data.draw(st.booleans(), label="by the scanner")
        # Else often the scanner's sibling: the same account on another device (phones 0/1 are
        # Ann's, 2/3 Bob's), which only the device binding can refuse.
        sibling = m.scanner ^ 1 if m.scanner is not None else 0
        phone = m.scanner if by_scanner else data.draw(st.sampled_from([sibling, 0, 1, 2, 3]))
        which = data.draw(
            st.sampled_from(["current", "current", "retired", "other session's", "forged"]),
            label="token",
        )
        number = data.draw(st.sampled_from(["right", "right", "wrong", "missing"]), label="number")
        code = {"right": m.code, "missing": None}.get(number, f"{(int(m.code or 0) + 1) % 100:02d}")
        deny = data.draw(st.booleans(), label="deny")
        self.decide(m, phone, self.pick_token(m, which), code, deny, stale)

    def decide(self, m: Model, phone: int, temp: str, code, deny: bool, stale=False) -> None:
        expected = self.require(m, {"scanned"})
        if expected is None and m.scanner != phone:
            expected = exceptions.WrongDevice
        elif expected is None and temp != m.temp:
            expected = exceptions.InvalidTempToken
        elif expected is None and not deny and m.code and code != m.code:
            expected = exceptions.VerificationFailed
        actor = self.phones[phone]
        if deny:
            action = lambda: self.target(m, stale).deny(actor, temp)  # noqa: E731
        else:
            action = lambda: self.target(m, stale).confirm(actor, temp, code)  # noqa: E731
        ok, _, refused = self.attempt("deny" if deny else "confirm", expected, action, stale)
        if refused is exceptions.VerificationFailed or (ok and deny):
            self.settle(m, "denied")
        elif ok:
            self.settle(m, "confirmed")
            m.temp, m.deadline = None, self.now + COMPLETE_TTL

    def complete(self, m: Model, with_token: bool, stale: bool = False) -> None:
        expected = self.require(m, {"confirmed"})
        owner = self.phones[m.scanner].user if m.scanner is not None else None
        if expected is None and not get_user_model().objects.get(pk=owner.pk).is_active:
            expected = exceptions.InactiveUser
            read_before = m.stale.user if stale and m.stale is not None else None
            if read_before is not None and read_before.is_active:
                # A request that read the user before the deactivation may still finish: the
                # deactivation race is benign (the user could have logged in a second earlier).
                expected = None

        def issue(user):
            self.issued.append((m.pk, user.pk))
            if with_token:
                return issue_device_token(user=user, device_id=f"pc-{m.pk}", device_type="pc")
            return user

        ok, _, _ = self.attempt(
            "complete", expected, lambda: self.target(m, stale).complete(PC, issue), stale
        )
        if ok:
            self.settle(m, "completed")

    # Invariants -----------------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        """Checked after every step, from one read of the sessions and events."""
        rows = QRLoginSession.objects.in_bulk([m.pk for m in self.models])
        events: dict[int, list[QRLoginEvent]] = {m.pk: [] for m in self.models}
        for row in QRLoginEvent.objects.order_by("created_at", "pk"):
            events[row.session_id].append(row)
        for m in self.models:
            row, trail = rows[m.pk], events[m.pk]
            self.database_agrees_with_the_model(m, row)
            self.no_way_out_of_a_terminal_state(m, row)
            self.at_most_one_completion(row, trail)
            self.only_the_scanner_confirms(row, trail)
        self.no_credential_without_the_owners_confirm(rows, events)

    def database_agrees_with_the_model(self, m: Model, row: QRLoginSession) -> None:
        status = row.status
        if status in LIVE_STATES and row.expires_at <= datetime.now(UTC):
            status = "expired"  # what any read makes of it
        assert status == self.effective(m), (m, row.status)
        scanner = self.phones[m.scanner] if m.scanner is not None else None
        assert row.user_id == (scanner.user.pk if scanner else None)
        assert row.phone_device_key == (scanner.device_key if scanner else "")
        assert bool(row.temp_token_digest) == (row.status == "scanned")

    def no_way_out_of_a_terminal_state(self, m: Model, row: QRLoginSession) -> None:
        if m.terminal_seen is not None:
            assert row.status == m.terminal_seen, (m.terminal_seen, row.status)
        elif row.status in TERMINAL_STATES:
            m.terminal_seen = row.status

    def at_most_one_completion(self, row: QRLoginSession, trail: list[QRLoginEvent]) -> None:
        kinds = [e.kind for e in trail]
        assert kinds.count("completed") <= 1 and kinds.count("confirmed") <= 1
        assert ("completed" in kinds) == (row.status == "completed")
        # Each kind of event happens in the order of the state machine, terminal ones last.
        assert all(k not in TERMINAL_STATES for k in kinds[:-1]), kinds

    def only_the_scanner_confirms(self, row: QRLoginSession, trail: list[QRLoginEvent]) -> None:
        for step in trail:
            if step.kind in ("scanned", "confirmed", "denied"):
                assert step.device_key == row.phone_device_key
                assert step.user_id == row.user_id

    def no_credential_without_the_owners_confirm(self, rows: dict, events: dict) -> None:
        sessions = [pk for pk, _user in self.issued]
        assert len(sessions) == len(set(sessions)), "two credentials for one session"
        for session_pk, user_pk in self.issued:
            row, kinds = rows[session_pk], [e.kind for e in events[session_pk]]
            assert row.status == "completed" and row.user_id == user_pk
            assert kinds.index("confirmed") < kinds.index("completed")
            confirm = events[session_pk][kinds.index("confirmed")]
            assert confirm.user_id == user_pk and confirm.device_key == row.phone_device_key
        for token in DeviceToken.objects.filter(device__device_type="pc").select_related("device"):
            session_pk = int(token.device.device_id.removeprefix("pc-"))
            assert (session_pk, token.device.user_id) in self.issued


QRLoginMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestQRLoginStateMachine = QRLoginMachine.TestCase
