"""Which failed listings mean "the listed root does not exist" (pure; issue 15): rclone's exit
3, and FTP's ``501 "No such directory."`` about the root, which rclone reports as exit 1."""

from __future__ import annotations

import pytest

from watcher.rclone import RcloneResult
from watcher.rclone.causes import root_missing

PYFTPDLIB = 'error listing: 501 "No such directory."'


@pytest.mark.parametrize(
    ("exit_code", "errors", "missing"),
    [
        (3, ["directory not found"], True),
        (1, [PYFTPDLIB], True),
        (1, [PYFTPDLIB, PYFTPDLIB], True),
        (1, ['error listing: 501 "no such file or directory"'], True),
        (1, [], False),  # exit 1 without a line saying why: not a missing folder
        (1, [f"sub dir: {PYFTPDLIB}"], False),  # a subfolder vanished mid-walk
        (1, [PYFTPDLIB, "error listing: 530 Login incorrect."], False),
        (1, ['error listing: 501 "Invalid path."'], False),
        (1, ["error listing: dial tcp 127.0.0.1:21: connect: connection refused"], False),
        (5, [PYFTPDLIB], False),  # retries exhausted is a transport failure
        (0, [], False),
    ],
)
def test_root_missing(exit_code: int, errors: list[str], missing: bool) -> None:
    assert root_missing(exit_code, errors) is missing


def test_a_timed_out_listing_is_never_a_missing_root() -> None:
    listing = ("lsjson", "cloud:share/")
    assert RcloneResult(listing, 1, 0.3, errors=[PYFTPDLIB]).dir_not_found
    assert not RcloneResult(listing, 3, 30.0, timed_out=True).dir_not_found
    assert not RcloneResult(listing, 1, 0.3, errors=[f"a.txt: {PYFTPDLIB}"]).dir_not_found
