"""Torch's ASCII format (`torch.save(path, obj, 'ascii')`): the binary parser, text primitives."""

from __future__ import annotations

import re

import numpy as np

from converter.torch7.binary import Reader

# spaces, the token, and the one space that ends it (read with it, as DiskFile's fscanf does)
_TOKEN = re.compile(rb"[ \t\n\r\x0b\x0c]*([^ \t\n\r\x0b\x0c]{0,65})[ \t\n\r\x0b\x0c]?")
_MAX_TOKEN = 64


class AsciiReader(Reader):
    """Torch's ASCII format: numbers as whitespace-separated text, strings as raw bytes."""

    def read_int(self) -> int:
        token = self._token()
        try:
            return int(token)
        except ValueError:
            raise self.fail(f"expected an integer, found {token[:20]!r}") from None

    def read_long(self) -> int:
        return self.read_int()

    def read_double(self) -> float:
        token = self._token()
        try:
            return float(token)
        except ValueError:
            raise self.fail(f"expected a number, found {token[:20]!r}") from None

    def read_long_array(self, n: int) -> list[int]:
        return [self.read_int() for _ in range(n)]

    def read_array(self, dtype: np.dtype, count: int) -> np.ndarray:
        if dtype.itemsize == 1:  # Byte/Char: DiskFile.c writes them raw even in ASCII mode
            return np.frombuffer(self.read_raw(count), dtype=dtype).copy()
        if count > self.remaining():
            raise self.fail(f"truncated file: a storage of {count:,} values does not fit")
        tokens: list[bytes] = []
        while len(tokens) < count:  # torch writes all values on one line
            if not self.remaining():
                raise self.fail("truncated file: it ends in the middle of a storage")
            end = self.data.find(b"\n", self.pos)
            end = self.total_size if end < 0 else end + 1
            tokens += self.data[self.pos : end].split()
            self.pos = end
        if len(tokens) != count:
            raise self.fail(f"corrupt storage: {len(tokens):,} values where {count:,} belong")
        try:  # integers parsed as integers: a float64 detour would round longs above 2**53
            values = np.array(tokens)
            return values.astype(dtype if dtype.kind in "iu" else np.float64).astype(dtype)
        except (ValueError, OverflowError):
            raise self.fail("corrupt storage values") from None

    def read_raw(self, n: int) -> bytes:
        """`n` raw bytes and the newline Torch's auto-spacing writes after them."""
        data = self.read_bytes(n)
        if n and self.data[self.pos : self.pos + 1] == b"\n":
            self.pos += 1
        return data

    def _token(self) -> bytes:
        match = _TOKEN.match(self.data, self.pos)
        token = match.group(1)
        if not token:
            self.pos = match.end()
            raise self.fail("truncated file: it ends in the middle of an object")
        if len(token) > _MAX_TOKEN:
            self.pos = match.start(1) + _MAX_TOKEN + 1
            raise self.fail("corrupt number token")
        self.pos = match.end()
        return token
