"""Logging through `rich`: one line per event a user wants to see."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

# Progress bars and log lines share one stderr console so that they do not overwrite each other.
console = Console(stderr=True)


def setup_logging(verbosity: int = 0) -> None:
    """Route `logging` to a rich handler; -v shows debug lines from egobench."""
    level = logging.DEBUG if verbosity > 0 else logging.INFO
    handler = RichHandler(console=console, show_path=False, show_time=False, markup=False)
    logging.basicConfig(level=logging.WARNING, handlers=[handler], format="%(message)s", force=True)
    logging.getLogger("egobench").setLevel(level)
