"""Reading gzip data so that damage loses nothing before it: every byte up to the damage is read.

``gzip.GzipFile`` loses what it decompressed in the call that meets damaged data (and its buffered
reads lose what came before); :class:`Gunzip` does not.
"""

from __future__ import annotations

import io
import zlib
from typing import IO, Any

from ga_ee_bridge.errors import DamagedInputError

__all__ = ["GZIP_MAGIC", "Gunzip"]

#: What every gzip stream starts with.
GZIP_MAGIC = b"\x1f\x8b"


class Gunzip(io.RawIOBase):
    """gzip data decompressed in fixed steps, so that damage keeps every byte before it.

    ``gzip.GzipFile`` loses what it decompressed in the call that meets damaged data (and its
    buffered reads what came before); here a step that fails is decompressed again byte by byte
    from a copy of the state before it, giving out everything up to the damage, then
    :class:`DamagedInputError` on every later read. The steps depend only on the input, so a
    damaged stream breaks at the same byte for every reader (the output does not depend on
    ``--jobs``). Concatenated gzip members are read one after the other.
    """

    #: Compressed bytes per step, and the most decompressed bytes a step gives (bounded memory).
    PIECE = 1 << 15
    OUT = 1 << 20

    def __init__(self, source: IO[bytes]):
        self._source = source
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._tail = b""  # compressed bytes not decompressed yet
        self._data = memoryview(b"")
        self._error: DamagedInputError | None = None
        self._in_member = False
        self._done = False
        self._offset = 0  # compressed bytes read from the source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._data:
            if self._error is not None:
                raise self._error
            if self._done:
                return 0
            self._data = memoryview(self._step())
        size = min(len(buffer), len(self._data))
        buffer[:size] = self._data[:size]
        self._data = self._data[size:]
        return size

    def _fail(self, message: str) -> bytes:
        self._error = DamagedInputError(message)
        return b""

    def _step(self) -> bytes:
        if not self._tail:
            try:
                self._tail = self._source.read(self.PIECE)
            except OSError as err:
                return self._fail(f"cannot read on: {err}")
            self._offset += len(self._tail)
            if not self._tail:
                self._done = True
                if self._in_member:
                    return self._fail("the gzip data ends early (a truncated file?)")
                return b""
        if not self._in_member:  # between members: zero padding, or a member's header
            self._tail = self._tail.lstrip(b"\0")
            if not self._tail:
                return b""
            if not GZIP_MAGIC.startswith(self._tail[:2]):
                return self._fail(f"not gzip data after byte {self._offset - len(self._tail):,}")
            self._in_member = True
        inflate = self._inflate
        before = inflate.copy()
        tail = self._tail
        try:
            out = inflate.decompress(tail, self.OUT)
        except zlib.error as err:
            out, at = _salvage(before, tail)
            where = self._offset - len(tail) + at
            self._fail(f"damaged gzip data at byte {where:,} of the file ({err})")
            return out
        if inflate.eof:
            self._tail = inflate.unused_data
            self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            self._in_member = False
        else:
            self._tail = inflate.unconsumed_tail
        return out

    def close(self) -> None:
        self._source.close()
        super().close()


def _salvage(inflate: Any, data: bytes) -> tuple[bytes, int]:
    """What ``inflate`` gives from ``data`` byte by byte up to the byte it fails on, and where
    that byte is in ``data``."""
    out = []
    at = 0
    for at in range(len(data)):
        try:
            out.append(inflate.decompress(data[at:at + 1]))
        except zlib.error:
            break
    return b"".join(out), at
