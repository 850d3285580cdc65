"""Run several ``rewardlab`` commands in one process, as ``torchrun ... tests/launch_cli.py CMDS.json`` does.

One launch (one process-group start) serves a whole test, which keeps the distributed tests fast; each
command goes through the real typer app exactly as the console script runs it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rewardlab.cli import app


def main(path: str) -> None:
    for argv in json.loads(Path(path).read_text(encoding="utf-8")):
        try:
            app(argv, standalone_mode=False)
        except SystemExit as exc:  # typer exits 0 after a command; anything else is a failure
            if exc.code not in (0, None):
                raise


if __name__ == "__main__":
    main(sys.argv[1])
