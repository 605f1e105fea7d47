"""Proof that a loader never unpickles: every unpickler Python and torch have, made to raise."""

from __future__ import annotations

import pickle


class NoPickle(Exception):
    pass


def forbid_pickle(monkeypatch) -> None:
    """Every unpickler there is raises: pickle's (Python and C) and torch.load's weights_only."""
    import _pickle

    from torch import _weights_only_unpickler

    def refuse(*_a, **_k):
        raise NoPickle("unpickling was attempted")

    class RefusingUnpickler:  # a class: torch.load subclasses pickle_module.Unpickler
        __init__ = refuse

    for module in (pickle, _pickle, _weights_only_unpickler):
        for name, replacement in (
            ("loads", refuse),
            ("load", refuse),
            ("Unpickler", RefusingUnpickler),
        ):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, replacement)
