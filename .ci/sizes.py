"""The house limits on size: no module over 400 lines, no function over 50.

    python .ci/sizes.py watcher bench tests

Prints each breach as ``path:line name: N lines`` and exits 1 when there is one."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MODULE_LINES = 400
FUNCTION_LINES = 50


def breaches(path: Path) -> list[str]:
    """The limits ``path`` breaks, one line each."""
    text = path.read_text(encoding="utf-8")
    found = []
    lines = text.count("\n")
    if lines > MODULE_LINES:
        found.append(f"{path}: {lines} lines (limit {MODULE_LINES})")
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            if size > FUNCTION_LINES:
                found.append(
                    f"{path}:{node.lineno} {node.name}: {size} lines (limit {FUNCTION_LINES})"
                )
    return found


def main(roots: list[str]) -> int:
    """Check every ``*.py`` under ``roots``; 1 when any limit is broken."""
    found = [b for root in roots for p in sorted(Path(root).rglob("*.py")) for b in breaches(p)]
    print("\n".join(found) if found else f"sizes ok: {', '.join(roots)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["watcher"]))
