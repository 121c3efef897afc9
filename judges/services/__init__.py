"""Writes for judges: configuration and versions (judges.py), runs (runs.py), chunk work (chunks.py)."""
