"""What ``workspace-sync check`` compares, and how (pure): the mode's sides and filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from watcher.config import Config
from watcher.plan.cycle import remote_root, sync_filter
from watcher.plan.filters import PathFilter

Side = Literal["local", "remote"]


@dataclass(frozen=True)
class CheckPlan:
    """``rclone check SRC DST`` for a config: ``source`` names the side ``src`` is (the mode's
    source of truth in a one-way mode, the local side in bisync), ``one_way`` adds
    ``--one-way`` (files only at the destination are not reported: the next run removes
    them)."""

    src: str
    dst: str
    source: Side
    one_way: bool
    filter: PathFilter
    download: bool = False

    def args(self, link_args: list[str]) -> list[str]:
        """The rclone arguments: ``check`` with the filters, ``--combined -`` (one line per
        file on stdout), ``--one-way`` and ``--download`` as planned."""
        args = ["check", self.src, self.dst, "--combined", "-"]
        args += self.filter.rclone_args() + link_args
        if self.one_way:
            args.append("--one-way")
        if self.download:
            args.append("--download")
        return args

    def side_of(self, mark: str) -> Side | None:
        """Where a file marked ``+`` (only in the source) or ``-`` (only at the destination)
        in rclone's ``--combined`` output exists; ``None`` for other marks."""
        other: Side = "remote" if self.source == "local" else "local"
        return {"+": self.source, "-": other}.get(mark)


def plan_check(cfg: Config, *, download: bool = False) -> CheckPlan:
    """The comparison for ``cfg.mode``: mailbox compares sync root → remote root one way (the
    workspace is the source), mirror remote root → sync root one way, bisync both ways; each
    with the filters of the mode's sync (``_inbox``/``_outbox`` left out of the one-way modes,
    the ingest folder out of the mirror)."""
    local, remote = str(cfg.sync_root), remote_root(cfg)
    if cfg.mode == "mailbox":
        return CheckPlan(local, remote, "local", True, sync_filter(cfg), download)
    if cfg.mode == "mirror":
        return CheckPlan(remote, local, "remote", True, sync_filter(cfg), download)
    return CheckPlan(local, remote, "local", False, sync_filter(cfg, for_bisync=True), download)
