"""The convergence oracle (issue 16): a seeded adversary against running ``watch`` daemons.

A run builds a *world* (:mod:`tests.oracle.world`: machines with their own HOME, configs and
daemons over one remote), applies a seeded list of operations (:mod:`tests.oracle.ops`,
executed by :mod:`tests.oracle.actions`, which tells the :mod:`tests.oracle.model` what every
writer completed), waits for quiescence after each batch and checks the invariants
(:mod:`tests.oracle.check`) on a :class:`~tests.oracle.snapshot.Snapshot` of every tree.
:mod:`tests.oracle.run` drives it; ``python -m tests.oracle --seed N --ops M`` replays a run.
"""
