"""``python bench/make_sessions.py N FILE``: N pending QR sessions, written as [[id, secret]].

The waiting PCs of the parking steps need thousands of sessions before the first poll. Through
the API that is minutes of the run (and a measure of its own: step 5); here they are made by
the same model method the create view calls (``QRLoginSession.objects.start``), in one
process, with the environment ``bench/run.py`` gives its servers.
"""

import json
import sys
from pathlib import Path

import django
from django.db import transaction

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    count, out = int(sys.argv[1]), Path(sys.argv[2])
    django.setup()
    from qrlogin.models import QRLoginSession

    made: list[list[str]] = []
    while len(made) < count:
        with transaction.atomic():
            for _ in range(min(1000, count - len(made))):
                started = QRLoginSession.objects.start(
                    pc_ip="127.0.0.1", pc_user_agent="QRLoginBench/1.0 (waiting PC)"
                )
                made.append([started.session.public_id, started.secret])
    out.write_text(json.dumps(made))


if __name__ == "__main__":
    main()
