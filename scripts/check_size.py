"""Fail when a module outside tests/ is over the size a person can hold (500 lines).

Function size and complexity are ruff's (C901, PLR0912, PLR0915 in pyproject.toml); this is the
module half of the same rule. Run by `make lint` on the files git tracks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MAX_LINES = 500


def oversized(root: Path) -> list[tuple[str, int]]:
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    found = []
    for name in tracked:
        if name.startswith("tests/") or "/tests/" in name or not (root / name).is_file():
            continue
        lines = len((root / name).read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            found.append((name, lines))
    return found


def main() -> int:
    found = oversized(Path(__file__).resolve().parent.parent)
    for name, lines in found:
        print(f"{name}: {lines} lines; split it by concern (at most {MAX_LINES} outside tests)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
