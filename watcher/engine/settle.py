"""Placeholder: replaced by the ingest branch's implementation."""

from __future__ import annotations

from pathlib import Path


def open_for_writing(paths: list[Path]) -> set[Path]:
    """Those of ``paths`` that some process has open for writing (not implemented here)."""
    return set()
