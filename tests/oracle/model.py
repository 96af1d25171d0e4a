"""The oracle's model of what must be true. :mod:`tests.oracle.actions` reports every
completed write and removal here, with the digest that was at the path just before (read
from disk before the operation), so the model knows which versions were superseded.

A version is superseded when a writer that propagates (every place but a mirror's sync root)
replaced or removed a file holding exactly it: that writer saw it. A local edit in a mirror
supersedes nothing (the pull brings the gateway's version back) but must itself survive in
the mirror backups."""

from __future__ import annotations

from dataclasses import dataclass

from tests.oracle.snapshot import digest

EMPTY = digest(b"")


@dataclass(frozen=True)
class Version:
    """A completed write: ``digest`` at ``place``/``rel`` by op ``op``."""

    place: str
    rel: str
    digest: str
    op: int

    @property
    def inbound(self) -> bool:
        """Dropped into the remote ``_outbox`` or a mirror's ingest folder."""
        return self.place.endswith(":ingest") or (
            self.place == "remote" and self.rel.startswith("_outbox/")
        )


class Model:
    """Versions written by every writer (places as in :mod:`tests.oracle.snapshot`)."""

    def __init__(self, topology: str) -> None:
        self.topology = topology
        self.versions: list[Version] = []
        self.superseded: set[str] = set()
        self.writer: dict[str, str] = {}  # digest -> the place that first wrote it
        self.touched: dict[tuple[str, str], int] = {}  # (place, rel) -> the last op there
        self.op = -1  # the op being applied (set by actions)

    def _supersede(self, place: str, prior: str | None) -> None:
        """``place`` replaced ``prior``: a mirror's local edit supersedes only its own."""
        if prior is None:
            return
        mirror_edit = self.topology == "mailbox-mirror" and place == "laptop"
        if mirror_edit and self.writer.get(prior) != "laptop":
            return
        self.superseded.add(prior)

    def wrote(
        self, place: str, rel: str, digest: str, prior: str | None, op: int | None = None
    ) -> None:
        """A writer completed version ``digest`` at ``place``/``rel``; ``prior`` is the digest
        that was there just before (None: no file); ``op``: the op that wrote it when it is not
        the one being applied (a slow writer finishing in the background)."""
        op = self.op if op is None else op
        self._supersede(place, prior)
        self.touched[place, rel] = max(op, self.touched.get((place, rel), -1))
        self.versions.append(Version(place, rel, digest, op))
        self.writer.setdefault(digest, place)

    def removed(self, place: str, rel: str, prior: str | None) -> None:
        """A writer deleted (or moved away) ``place``/``rel``, which held ``prior``."""
        self._supersede(place, prior)
        self.touched[place, rel] = self.op

    def local_edit(self, rel: str) -> bool:
        """A mirror's sync root changed at ``rel`` after the gateway and the remote last did:
        the contract reverts it on the mirror's next pull (a remote change or ``interval``),
        keeping it in the mirror backups, so until then it may differ."""
        if self.topology != "mailbox-mirror":
            return False
        mine = self.touched.get(("laptop", rel), -1)
        return mine > max(self.touched.get(("gw", rel), -1), self.touched.get(("remote", rel), -1))

    def mandatory(self) -> list[Version]:
        """Versions that must exist somewhere: not superseded, not empty."""
        return [v for v in self.versions if v.digest not in self.superseded and v.digest != EMPTY]

    def inbound(self) -> dict[str, tuple[int, int]]:
        """digest -> (mandatory copies, all copies) of inbound versions."""
        out: dict[str, tuple[int, int]] = {}
        for v in self.versions:
            if v.inbound:
                must, may = out.get(v.digest, (0, 0))
                out[v.digest] = (must + (v.digest not in self.superseded), may + 1)
        return out
