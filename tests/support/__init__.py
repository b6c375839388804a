"""What the tests share: where the repository (and so ``fixtures/`` and ``docs/``) is."""

from pathlib import Path

#: The repository's root folder.
REPO = Path(__file__).resolve().parents[2]
