"""Torch's ASCII format (`torch.save(path, obj, 'ascii')`): the binary parser, text primitives."""

from __future__ import annotations

import io

import numpy as np

from converter.torch7.binary import Reader


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
            line = self.f.readline(self.remaining())
            if not line:
                raise self.fail("truncated file: it ends in the middle of a storage")
            tokens += line.split()
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
        if n and self.f.read(1) not in (b"\n", b""):
            self.f.seek(-1, io.SEEK_CUR)
        return data

    def _token(self) -> bytes:
        out = bytearray()
        while True:
            c = self.f.read(1)
            if not c:
                if out:
                    return bytes(out)
                raise self.fail("truncated file: it ends in the middle of an object")
            if c.isspace():
                if out:
                    return bytes(out)
                continue
            out += c
            if len(out) > 64:
                raise self.fail("corrupt number token")
