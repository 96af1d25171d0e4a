"""A session: a validated config bound to its state folder, rclone binary and rclone.conf."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from loguru import logger

from watcher.config import Config, is_secret, test_limits
from watcher.engine.lock import wait_lock
from watcher.engine.state import StatePaths, state_paths
from watcher.errors import ConfigError
from watcher.plan.transfer import transfer_flags
from watcher.rclone import (
    Rclone,
    RcloneBinary,
    ensure_config_file,
    find_rclone,
    modtime_precision,
)
from watcher.rclone.causes import auth_hint
from watcher.rclone.conffile import backup_salt, render_section
from watcher.rclone.features import Features, load_features
from watcher.rclone.ops import flags_problem

#: Seconds before a session asks again for features rclone could not tell (server down).
REASK_AFTER = 300.0


@dataclass
class BackendKnowledge:
    """What a session learnt of the remote's backend: its features once rclone told them,
    and when asking last failed (monotonic seconds), so a down server is asked again only
    after :data:`REASK_AFTER`."""

    features: Features | None = None
    failed_at: float | None = None


@dataclass(frozen=True)
class Session:
    """Everything a run needs; built by :func:`open_session`."""

    cfg: Config
    paths: StatePaths
    binary: RcloneBinary
    rc: Rclone
    #: Modification-time precision by remote root, once rclone has told it (it stays the
    #: backend's for the session's life: a daemon asks once, not on every pull).
    precisions: dict[str, float] = field(default_factory=dict, compare=False, repr=False)
    #: The remote backend's features, once known (see :meth:`features`).
    backend: BackendKnowledge = field(
        default_factory=lambda: BackendKnowledge(), compare=False, repr=False
    )

    @property
    def remote(self) -> str:
        """The root of the remote the features are asked for (``remote_name:``)."""
        return f"{self.cfg.remote_name}:"

    async def features(self, *, ask: bool = True) -> Features | None:
        """What the remote's backend supports: stored when rclone.conf was written; while
        unknown, asked again (and stored) at most every :data:`REASK_AFTER` seconds (never
        without ``ask``); ``None`` when rclone cannot say (files are compared as before)."""
        if self.backend.features is not None:
            return self.backend.features
        failed = self.backend.failed_at
        if failed is not None and time.monotonic() - failed < REASK_AFTER:
            ask = False
        found = await load_features(
            self.rc,
            self.remote,
            self.paths.features,
            self.paths.fingerprint,
            written=False,
            backend=render_section(self.cfg)["type"],
            ask=ask,
        )
        if found is None:
            if ask:
                self.backend.failed_at = time.monotonic()
            return None
        self.backend.features = found
        return found

    async def modtime_precision(self, root: str) -> float | None:
        """The precision of ``root``'s backend (:func:`watcher.rclone.modtime_precision`),
        asked of rclone once per session (the remote's comes from :meth:`features`); an
        unknown answer is asked again next time."""
        known = self.backend.features
        if root.startswith(self.remote) and known is not None:
            return known.precision_ns / 1e9
        if root not in self.precisions:
            precision = await modtime_precision(self.rc, root)
            if precision is None:
                return None
            self.precisions[root] = precision
        return self.precisions[root]

    def link_args(self) -> list[str]:
        """How symlinks are treated: followed with ``copy_symlinks``, otherwise skipped."""
        return ["--copy-links"] if self.cfg.copy_symlinks else ["--skip-links"]

    def run_lock(self, wait: float) -> AbstractAsyncContextManager[None]:
        """The pair's run lock (one rclone run at a time per sync root + remote root, whatever
        the config file), waiting up to ``wait`` seconds; the lock file names this config."""
        return wait_lock(
            self.paths.run_lock, "workspace-sync run", wait, owner=str(self.cfg.config_path)
        )


def secret_values(cfg: Config) -> Iterator[str]:
    """Every secret value of ``cfg`` (for redaction of anything rclone prints)."""
    for key, value in cfg.provider_options.items():
        if is_secret(cfg.provider, key) and isinstance(value, str):
            yield value
        if key == "rclone_options":
            for sub, subvalue in value.items():
                if is_secret("custom", sub) and isinstance(subvalue, str):
                    yield subvalue
    if cfg.backup.password:
        yield cfg.backup.password
        yield backup_salt(cfg.backup.password)


async def open_session(cfg: Config, *, ask_features: bool = True) -> Session:
    """Find rclone, create the state folder and bring rclone.conf up to date; when it was
    written (or nothing is stored), ask what the remote's backend supports (not without
    ``ask_features``, e.g. ``status --offline``).

    Raises :class:`~watcher.errors.ConfigError` (exit 2) for a missing or old rclone or a
    provider that cannot be configured; nothing outside the state folder is touched.
    """
    if test_limits():
        logger.warning("WORKSPACE_SYNC_TEST_LIMITS=1: minimum intervals lowered for tests")
    paths = state_paths(cfg)
    binary = await find_rclone(cfg.rclone)
    backend = render_section(cfg)["type"]  # refuses provider "off" before anything is created
    paths.create()
    rc = Rclone(
        binary,
        cfg.rclone_config or paths.rclone_conf,
        paths.cache,
        timeout=cfg.timeout,
        secrets=list(secret_values(cfg)),
        transfer_flags=transfer_flags(cfg.transfer),
        auth_hint=auth_hint(
            cfg.provider, str(cfg.config_path), cfg.command("workspace-sync authorize")
        ),
    )
    problem = await flags_problem(rc, cfg.transfer.extra_flags)
    if problem is not None:
        raise ConfigError(
            f"{cfg.config_path}: key 'transfer.extra_flags': rclone refuses them ({problem}); "
            "each must be one of rclone's global flags (`rclone help flags`), they go to every call"
        )
    written = await ensure_config_file(rc, cfg, paths.fingerprint)
    if written:
        logger.debug("wrote {}", rc.config_file)
    session = Session(cfg, paths, binary, rc)
    found = await load_features(
        rc,
        session.remote,
        paths.features,
        paths.fingerprint,
        written=written,
        backend=backend,
        ask=ask_features,
    )
    if found is not None:
        session.backend.features = found
    elif ask_features:
        session.backend.failed_at = time.monotonic()
    return session
