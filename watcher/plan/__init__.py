"""Pure planning: which rclone operations a cycle runs, and the filters they use."""

from watcher.plan.cycle import (
    CLAIMS,
    INBOX,
    OUTBOX,
    Direction,
    Step,
    StepKind,
    local_remote_dir,
    plan_cycle,
    remote_join,
    remote_root,
    sync_filter,
)
from watcher.plan.filters import PathFilter, expand_patterns
from watcher.plan.pair import PairIdentity, pair_identity

__all__ = [
    "CLAIMS",
    "INBOX",
    "OUTBOX",
    "Direction",
    "PairIdentity",
    "PathFilter",
    "Step",
    "StepKind",
    "expand_patterns",
    "local_remote_dir",
    "pair_identity",
    "plan_cycle",
    "remote_join",
    "remote_root",
    "sync_filter",
]
