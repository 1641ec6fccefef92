"""Benchmarks of django-qrlogin: run ``.venv/bin/python bench/run.py`` from the repo root."""
