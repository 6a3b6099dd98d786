"""A dependency-free progress bar on stderr (one line, redrawn in place)."""

from __future__ import annotations

import sys
import time


class Progress:
    """``Progress(total, desc)``; call ``update(done, **fields)`` and ``close()``."""

    def __init__(self, total: int, desc: str = "", enabled: bool = True, stream=None):
        self.total, self.desc, self.enabled = total, desc, enabled
        self.stream = sys.stderr if stream is None else stream
        self.start = time.perf_counter()

    def update(self, done: int, **fields: float) -> None:
        if not self.enabled:
            return
        width = 24
        filled = width * done // max(self.total, 1)
        rate = done / max(time.perf_counter() - self.start, 1e-9)
        extra = " ".join(f"{k}={v:.4g}" for k, v in fields.items())
        self.stream.write(f"\r{self.desc} [{'#' * filled}{'.' * (width - filled)}] "
                          f"{done}/{self.total} {rate:.0f} it/s {extra}   ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
