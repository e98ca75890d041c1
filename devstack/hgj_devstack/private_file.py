"""Files holding passwords: readable by their owner only from the moment they exist."""

import os
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Create (mode 0600) or overwrite ``path`` with ``text``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
