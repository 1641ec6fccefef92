"""What a DPoP proof costs the server: ``.venv/bin/python bench/dpop_verify.py [-n N]``.

Standalone (no server, no other bench step): it makes N proofs beforehand with a P-256 and an
Ed25519 key, then measures, in this one process, the CPU time (``time.process_time``) and the
wall time of

- ``verify``: ``qrlogin_accounts.dpop.verify_proof``, everything a request pays to check its
  proof (parse, the key from ``jwk``, the signature, htm/htu/iat/ath, the thumbprint);
- ``replay``: recording the proof's jti in the replay store, in Redis (``REDIS_URL``, default
  db 14 as bench/run.py uses) through Django's cache ``add()``, when Redis is reachable.

Each figure is the median of 5 rounds of N, per proof. docs/benchmarks.md records the output.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("DEBUG", "0")

import django

django.setup()

import cryptography  # noqa: E402
import jwt  # noqa: E402

from qrlogin_accounts import dpop  # noqa: E402
from tests.dpop import DeviceKey  # noqa: E402

URL = "https://example.com/accounts/api/me/"
TOKEN = secrets.token_urlsafe(32)
ROUNDS = 5


def measure(work: Callable[[int], object], n: int) -> tuple[float, float]:
    """Median (CPU µs, wall µs) per call of ``work(i)`` over ROUNDS rounds of ``n`` calls."""
    cpu, wall = [], []
    for _ in range(ROUNDS):
        c0, w0 = time.process_time(), time.perf_counter()
        for i in range(n):
            work(i)
        cpu.append((time.process_time() - c0) / n * 1e6)
        wall.append((time.perf_counter() - w0) / n * 1e6)
    return statistics.median(cpu), statistics.median(wall)


def redis_reachable() -> bool:
    from django.core.cache import cache

    try:
        cache.set("qrlogin-bench-dpop-ping", 1, 5)
        return cache.get("qrlogin-bench-dpop-ping") == 1
    except Exception:  # the bench reports what it could measure
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="proofs per round (default 2000)")
    args = parser.parse_args()
    n = args.n
    print(f"python {platform.python_version()}, PyJWT {jwt.__version__}, "
          f"cryptography {cryptography.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs; {ROUNDS} rounds of {n} proofs, median per proof")  # fmt: skip
    rows = []
    for kind in ("p256", "ed25519"):
        key = DeviceKey(kind)
        proofs = [key.proof("GET", URL, TOKEN) for _ in range(n)]
        now = time.time()

        def verify(i: int, proofs: list[str] = proofs, now: float = now) -> object:
            return dpop.verify_proof(proofs[i], method="GET", url=URL, access_token=TOKEN, now=now)

        cpu, wall = measure(verify, n)
        rows.append((f"verify {key.alg}", cpu, wall))

    if dpop.replay_store() == "cache" and redis_reachable():
        run = secrets.token_hex(4)
        iat = int(time.time())
        counter = iter(range(10**9))

        def replay(i: int) -> object:
            return dpop.first_use(f"bench-{run}", str(next(counter)), iat, store="cache")

        cpu, wall = measure(replay, n)
        rows.append(("replay store (Redis add)", cpu, wall))
    else:
        print("Redis not reachable: the replay-store row is left out")

    print(f"\n| {'step':<26} | CPU µs/proof | wall µs/proof |")
    print(f"|{'-' * 28}|-------------:|--------------:|")
    for name, cpu, wall in rows:
        print(f"| {name:<26} | {cpu:12.0f} | {wall:13.0f} |")
    worst = max(cpu for name, cpu, _ in rows if name.startswith("verify"))
    replay_cpu = next((cpu for name, cpu, _ in rows if name.startswith("replay")), 0.0)
    total = worst + replay_cpu
    print(f"\nworst verify + replay store: {total:.0f} µs CPU per request "
          f"({'under' if total < 1000 else 'OVER'} the 1 ms target)")  # fmt: skip


if __name__ == "__main__":
    main()
