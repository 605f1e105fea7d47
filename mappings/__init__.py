"""Mapping tables (data, not code): which Torch7 tensor becomes which PyTorch state_dict key.

Each table is a TSV file beside this module; `table_path(name)` finds it in a source checkout
and in an installed wheel alike.
"""

from pathlib import Path

MAPPINGS_DIR = Path(__file__).resolve().parent


def table_path(name: str) -> Path:
    """Path of the mapping table `name` (e.g. "irv2" -> mappings/irv2.tsv)."""
    return MAPPINGS_DIR / f"{name}.tsv"
