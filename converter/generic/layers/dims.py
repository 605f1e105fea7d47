"""Torch7's dimension arguments, resolved per input as nn resolves them (0-based results here).

nn stores dimensions 1-based and resolves them at every forward, against the input it gets: so
the same module takes a sample or a batch. Two rules cover the families:
- `from_end`: a negative dimension counts from the end (Narrow, Select, Squeeze...);
- `batch_shifted`: nn's `_getPositiveDimension` (Sum, Mean, Max, Min, SplitTable, JoinTable):
  negative from the end, otherwise shifted by one when the input has exactly one dimension more
  than `nInputDims` (a batch of them).
"""

from __future__ import annotations


def from_end(dimension: int, ndim: int) -> int:
    """`dimension` (1-based, negative = from the end: -1 is the last) as a 0-based dim."""
    return ndim + dimension if dimension < 0 else dimension - 1


def batch_shifted(dimension: int, n_input_dims: int | None, ndim: int) -> int:
    """`dimension` of a module with `nInputDims`, for an `ndim`-dimensional input (0-based)."""
    if dimension >= 0 and n_input_dims is not None and ndim == n_input_dims + 1:
        return dimension
    return from_end(dimension, ndim)


def optional_int(value: object) -> int | None:
    """A numeric field that nn leaves nil (None) unless set, e.g. nInputDims."""
    return None if value is None else int(value)
