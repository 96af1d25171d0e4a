"""``${VAR}`` references that are not set now, in a parsed config.

``import-openclaw`` writes them into sync.toml as references (they need to be set only when the
config is used): to validate such a file before writing it, each unset reference is replaced by
a placeholder in a copy of the parsed values, the file itself keeps the reference.
"""

from __future__ import annotations

import os
import re
from typing import Any

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: What an unset reference stands for while the file is validated.
PLACEHOLDER = "workspace-sync-unset"
#: The same for an OAuth ``token``, which must be the JSON ``rclone authorize`` prints.
TOKEN_PLACEHOLDER = '{"access_token":"workspace-sync-unset"}'  # noqa: S105 (not a secret)


def unset_refs(data: Any) -> list[str]:
    """The names of the ``${VAR}`` references in ``data`` (nested dicts, lists, strings) that
    are not set in the environment, sorted."""
    if isinstance(data, dict):
        return sorted({n for value in data.values() for n in unset_refs(value)})
    if isinstance(data, list):
        return sorted({n for value in data for n in unset_refs(value)})
    if isinstance(data, str):
        return sorted({n for n in _REF.findall(data) if n not in os.environ})
    return []


def with_placeholders(data: Any, key: str = "") -> Any:
    """A copy of ``data`` with every unset ``${VAR}`` replaced by :data:`PLACEHOLDER` (a
    ``token`` that is only such a reference by :data:`TOKEN_PLACEHOLDER`)."""
    if isinstance(data, dict):
        return {k: with_placeholders(v, str(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [with_placeholders(v, key) for v in data]
    if not isinstance(data, str):
        return data
    whole = _REF.fullmatch(data.strip())
    if key == "token" and whole and whole.group(1) not in os.environ:
        return TOKEN_PLACEHOLDER
    return _REF.sub(lambda m: m.group(0) if m.group(1) in os.environ else PLACEHOLDER, data)
