"""What every subcommand shares: exit statuses and the optional progress bar."""

from __future__ import annotations

from typing import Any

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_PARTIAL", "EXIT_USAGE",
           "optional_tqdm"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130


def optional_tqdm() -> Any:
    """The ``tqdm`` class when the ``cli`` extra is installed, else None (no progress bar)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm
