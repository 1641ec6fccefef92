"""Housekeeping: sessions (and their events) that ended more than ``--days`` ago, and, with
qrlogin_accounts installed, devices unused for ``ACCOUNTS["DEVICE_IDLE_TTL"]``."""

from datetime import timedelta

from django.apps import apps
from django.core.management.base import BaseCommand
from django.utils import timezone

from qrlogin.conf import ACCOUNTS_APP
from qrlogin.models import QRLoginSession


class Command(BaseCommand):
    help = (
        "Delete QR login sessions that ended more than --days days ago (default 30), and "
        'devices unused for ACCOUNTS["DEVICE_IDLE_TTL"] (with qrlogin_accounts installed).'
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=float, default=30.0)

    def handle(self, *args, days: float, **options) -> None:
        cutoff = timezone.now() - timedelta(days=days)
        _deleted, by_model = QRLoginSession.objects.finished_before(cutoff).delete()
        sessions = by_model.get(QRLoginSession._meta.label, 0)
        self.stdout.write(f"Deleted {sessions} session(s) ended before {cutoff:%Y-%m-%d %H:%M}.")
        if apps.is_installed(ACCOUNTS_APP):
            devices = apps.get_model(ACCOUNTS_APP, "Device").objects.purge_idle()
            self.stdout.write(f"Deleted {devices} idle device(s).")
