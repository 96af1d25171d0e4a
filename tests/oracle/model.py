"""The oracle's model of what must be true. INTERFACE STUB — the "model" engineer implements
it. :mod:`tests.oracle.actions` reports every completed write and removal here, with the
digest that was at the path just before (read from disk before the operation), so the model
knows which versions were superseded, by whom."""

from __future__ import annotations


class Model:
    """Versions written by every writer (places as in :mod:`tests.oracle.snapshot`)."""

    def __init__(self, topology: str) -> None:
        raise NotImplementedError

    def wrote(self, place: str, rel: str, digest: str, prior: str | None) -> None:
        """A writer completed version ``digest`` at ``place``/``rel``; ``prior`` is the digest
        that was there just before (None: no file)."""
        raise NotImplementedError

    def removed(self, place: str, rel: str, prior: str | None) -> None:
        """A writer deleted (or moved away) ``place``/``rel``, which held ``prior``."""
        raise NotImplementedError
