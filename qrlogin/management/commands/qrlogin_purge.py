"""Delete sessions (and their events) that ended more than ``--days`` ago."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from qrlogin.models import QRLoginSession


class Command(BaseCommand):
    help = "Delete QR login sessions that ended more than --days days ago (default 30)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=float, default=30.0)

    def handle(self, *args, days: float, **options) -> None:
        cutoff = timezone.now() - timedelta(days=days)
        _deleted, by_model = QRLoginSession.objects.finished_before(cutoff).delete()
        sessions = by_model.get(QRLoginSession._meta.label, 0)
        self.stdout.write(f"Deleted {sessions} session(s) ended before {cutoff:%Y-%m-%d %H:%M}.")
