"""Generate mappings/irv2.tsv by pairing the Torch7 module tree with the PyTorch model.

The Torch7 tree comes from tests/data/irv2_tiny.t7 (written by real Lua Torch7 from the
authors' model file; same structure as the full model at 1/8 width). Run it after changing
converter/irv2/model.py; `--check` exits 1 when the committed table differs (the tests do this too).

    python scripts/gen_mapping.py            # rewrite mappings/irv2.tsv
    python scripts/gen_mapping.py --check    # compare only
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from converter.irv2 import mapping
from converter.irv2.convert import infer_config
from converter.irv2.model import InceptionResNetV2
from converter.torch7 import modules as t7modules
from converter.torch7.reader import load_t7
from mappings import table_path

REFERENCE = Path(__file__).resolve().parent.parent / "tests" / "data" / "irv2_tiny.t7"


def generate(reference: Path = REFERENCE) -> list[mapping.MappingRow]:
    root = t7modules.unwrap(load_t7(reference), str(reference))
    with torch.device("meta"):
        model = InceptionResNetV2(infer_config(root))
    return mapping.build_rows(root, model)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed table")
    args = parser.parse_args()
    rows = generate()
    target = table_path("irv2")
    if args.check:
        same = target.is_file() and mapping.read_table(target) == rows
        print(f"{target}: {'up to date' if same else 'DIFFERS from the generated table'}")
        return 0 if same else 1
    mapping.write_table(rows, target)
    print(f"wrote {target}: {len(rows)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
