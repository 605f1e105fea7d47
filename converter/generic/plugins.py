"""A user's own translations, loaded from a Python file (`t7convert --generic --plugin FILE.py`).

The file is ordinary Python that registers builders with `@converter.register_translation`
(the same registry the built-in layers use), so a class the project does not know is
translated by its owner's code without editing the project. Running the file is the whole
mechanism; what it registers is checked like any built-in translation.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from converter.errors import UserError


def load_plugin(path: str | Path) -> ModuleType:
    """Run the plugin file at `path` (its registrations take effect) and return its module.

    A missing file, or one that fails while it runs, is a UserError naming the file, the
    error and the plugin's own line where it happened.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--plugin {path}: no such file; give the path of a Python file")
    name = f"t7convert_plugin_{path.stem}_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"--plugin {path}: not loadable as Python; name it FILE.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # so classes it defines can be found again by module name
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 - any failure of the user's code becomes one line
        del sys.modules[name]
        raise UserError(
            f"--plugin {path}: failed while loading{line_in(path, e)}: "
            f"{type(e).__name__}: {e}; fix the plugin file"
        ) from None
    return module


def line_in(path: Path, error: Exception) -> str:
    """' (line N)': the last line of the plugin itself in the error's traceback (also what
    the registry names when a plugin's builder fails)."""
    if isinstance(error, SyntaxError) and error.lineno:
        return f" (line {error.lineno})"
    resolved = str(path.resolve())
    lines = [
        f.lineno
        for f in traceback.extract_tb(error.__traceback__)
        if str(Path(f.filename).resolve()) == resolved
    ]
    return f" (line {lines[-1]})" if lines else ""
