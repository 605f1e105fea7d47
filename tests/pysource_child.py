"""Run by tests/test_pysource.py in a fresh interpreter (`python -I -S`, cwd = the work
directory) whose path holds the generated modules and the directories of torch and
safetensors, not this project: imports each generated module, runs its `load()` model on the
inputs saved beside it and saves the outputs. Reports which of this project's packages were
imported or importable (none may be).
"""

import importlib
import importlib.util
import json
import sys
from pathlib import Path


def main() -> None:
    work = Path(sys.argv[1])
    sys.path[:0] = [str(work), *sys.argv[2:]]
    import torch

    cases = json.loads((work / "cases.json").read_text())
    for name, n_inputs in cases.items():
        model = importlib.import_module(name).load()
        for i in range(n_inputs):
            x = torch.load(work / f"{name}.in{i}.pt", weights_only=True)
            with torch.no_grad():
                torch.save(model(x), work / f"{name}.out{i}.pt")
    ours = ("converter", "evaluate", "mappings")
    report = {
        "imported": sorted(m for m in sys.modules if m.partition(".")[0] in ours),
        "importable": [p for p in ours if importlib.util.find_spec(p) is not None],
    }
    (work / "report.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main()
