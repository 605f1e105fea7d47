"""A flat folder labelled by a file: Kaggle's LOC_val_solution.csv, the devkit's ground truth
(with its meta.mat), 'filename label' lines, and the class lists that number synsets.
"""

from __future__ import annotations

import re
from pathlib import Path

from converter.errors import UserError
from evaluate.data.imagelist import _EXAMPLES, ImageList, image_files

KAGGLE_HEADER = "ImageId,PredictionString"
SYNSET_MAPPING_NAME = "LOC_synset_mapping.txt"
DEVKIT_VAL_STEM = "ILSVRC2012_val_{:08d}"
_SYNSET = re.compile(r"^n\d{8}$")


def labelled_folder(
    root: Path,
    labels_file: Path,
    classes_file: Path | None = None,
    devkit_meta: Path | None = None,
) -> ImageList:
    """A flat folder whose labels come from a file; the format is recognised from its content."""
    lines = _text_lines(labels_file, "labels file (--labels)")
    classes = None if classes_file is None else read_class_list(classes_file)
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.replace(" ", "").startswith(KAGGLE_HEADER):
        if classes is None:
            classes = _classes_beside(labels_file)
        pairs = _read_kaggle(labels_file, lines, classes)
        source = labels_file.name
    elif _is_devkit(labels_file, lines):
        if devkit_meta is None:
            raise UserError(
                f"{labels_file}: holds devkit ILSVRC2012_IDs, which are not the sorted-synset "
                "class order; pass --devkit-meta with the devkit's data/meta.mat (needs scipy) "
                "or a text export of it ('ILSVRC2012_ID WNID' per line), or use Kaggle's "
                f"LOC_val_solution.csv with {SYNSET_MAPPING_NAME}"
            )
        id_to_wnid = read_devkit_meta(devkit_meta)
        if classes is None:
            # The 1000 ILSVRC2012 classes are IDs 1..1000; the rest of meta.mat are ancestors.
            classes = sorted(w for i, w in id_to_wnid.items() if i <= 1000)
        pairs = _read_devkit(labels_file, lines, id_to_wnid, classes)
        source = labels_file.name
    else:
        pairs = _read_plain(labels_file, lines, classes)
        source = labels_file.name
    return _resolve_files(root, labels_file, pairs, classes, source)


def read_class_list(path: Path) -> list[str]:
    """One synset per line (first token; the rest, e.g. words, ignored): line i = class i."""
    names = [
        line.split()[0] for line in _text_lines(path, "class list (--classes)") if line.strip()
    ]
    if not names:
        raise UserError(f"{path}: empty class list; expected one synset per line")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise UserError(f"{path}: {name} is listed twice (lines {seen[name] + 1}, {i + 1})")
        seen[name] = i
    return names


def read_devkit_meta(path: Path) -> dict[int, str]:
    """ILSVRC2012_ID -> WNID from the devkit's meta.mat (scipy) or its 'ID WNID' text export."""
    if path.suffix.lower() == ".mat":
        if not path.is_file():
            raise UserError(f"{path}: no such devkit meta file (--devkit-meta)")
        return _read_meta_mat(path)
    mapping: dict[int, str] = {}
    for number, line in enumerate(_text_lines(path, "devkit meta file (--devkit-meta)"), 1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if len(tokens) < 2 or not tokens[0].isdigit() or not _SYNSET.match(tokens[1]):
            raise UserError(
                f"{path}:{number}: expected 'ILSVRC2012_ID WNID' (e.g. '1 n02119789'), "
                f"got {line.strip()[:60]!r}"
            )
        mapping[int(tokens[0])] = tokens[1]
    if not mapping:
        raise UserError(f"{path}: no 'ILSVRC2012_ID WNID' lines")
    return mapping


def _text_lines(path: Path, what: str) -> list[str]:
    """The lines of a UTF-8 text file the user named (a BOM is dropped); anything else, a binary
    file included, is one clear error instead of a decoding traceback or a garbled line."""
    if not path.is_file():
        raise UserError(f"{path}: no such {what}")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read the {what}: {e.strerror or e}") from None
    try:
        text = None if b"\0" in data else data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is None:
        raise UserError(
            f"{path}: not UTF-8 text (a binary file or another encoding); the {what} must be "
            "a UTF-8 text file"
        )
    return text.splitlines()


def _classes_beside(labels_file: Path) -> list[str]:
    mapping = labels_file.parent / SYNSET_MAPPING_NAME
    if mapping.is_file():
        return read_class_list(mapping)
    raise UserError(
        f"{labels_file}: names synsets, and their class order needs the synset list: put "
        f"{SYNSET_MAPPING_NAME} (same Kaggle download) beside it or pass --classes FILE "
        "(one synset per line in sorted order, line i = class i)"
    )


def _read_kaggle(
    labels_file: Path, lines: list[str], classes: list[str]
) -> list[tuple[str, int, int]]:
    index = {name: i for i, name in enumerate(classes)}
    pairs = []
    header_seen = False
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if not header_seen:
            header_seen = True
            continue
        image_id, _, prediction = line.partition(",")
        tokens = prediction.split()
        if not image_id.strip() or not tokens:
            raise UserError(f"{labels_file}:{number}: expected 'ImageId,synset ...', got {line!r}")
        pairs.append(
            (image_id.strip(), _class_index(tokens[0], index, labels_file, number), number)
        )
    return pairs


def _is_devkit(labels_file: Path, lines: list[str]) -> bool:
    body = [line.strip() for line in lines if line.strip()]
    return "validation_ground_truth" in labels_file.name or (
        bool(body) and all(line.isdigit() for line in body)
    )


def _read_devkit(
    labels_file: Path, lines: list[str], id_to_wnid: dict[int, str], classes: list[str]
) -> list[tuple[str, int, int]]:
    index = {name: i for i, name in enumerate(classes)}
    pairs = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if not line.strip().isdigit():
            raise UserError(f"{labels_file}:{number}: expected one ILSVRC2012_ID, got {line!r}")
        wnid = id_to_wnid.get(int(line))
        if wnid is None:
            raise UserError(
                f"{labels_file}:{number}: ILSVRC2012_ID {int(line)} is not in the devkit meta"
            )
        pairs.append(
            (DEVKIT_VAL_STEM.format(number), _class_index(wnid, index, labels_file, number), number)
        )
    return pairs


def _read_plain(
    labels_file: Path, lines: list[str], classes: list[str] | None
) -> list[tuple[str, int, int]]:
    index = None if classes is None else {name: i for i, name in enumerate(classes)}
    pairs = []
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.rsplit(None, 1)
        if len(parts) != 2:
            raise UserError(f"{labels_file}:{number}: expected 'filename label', got {line!r}")
        name, label = parts
        if label.isdigit():
            pairs.append((name, int(label), number))
        elif _SYNSET.match(label):
            if index is None:
                raise UserError(
                    f"{labels_file}:{number}: label {label} is a synset; pass --classes FILE "
                    "(one synset per line, line i = class i) to number it"
                )
            pairs.append((name, _class_index(label, index, labels_file, number), number))
        else:
            raise UserError(
                f"{labels_file}:{number}: label {label!r} is neither a 0-based class index "
                "nor a synset"
            )
    return pairs


def _class_index(synset: str, index: dict[str, int], labels_file: Path, number: int) -> int:
    try:
        return index[synset]
    except KeyError:
        raise UserError(
            f"{labels_file}:{number}: synset {synset} is not in the class list "
            f"({len(index)} classes)"
        ) from None


def _resolve_files(
    root: Path,
    labels_file: Path,
    pairs: list[tuple[str, int, int]],
    classes: list[str] | None,
    source: str,
) -> ImageList:
    """Label entries -> files in `root` (an exact relative path, or an image id's stem)."""
    if not pairs:
        raise UserError(f"{labels_file}: no labels in it")
    present = image_files(root)
    by_stem = {p.stem: p for p in present}
    chosen: dict[Path, int] = {}
    missing = []
    for name, label, number in pairs:
        path = root / name
        if not path.is_file():
            path = by_stem.get(name) or by_stem.get(Path(name).stem)
        if path is None:
            missing.append(name)
            continue
        if path in chosen and chosen[path] != label:
            raise UserError(f"{labels_file}:{number}: {name} labelled twice, differently")
        chosen[path] = label
    if missing:
        raise UserError(
            f"{labels_file}: {len(missing)} labelled image(s) are missing from {root}, e.g. "
            f"{', '.join(missing[:_EXAMPLES])}; check --data, or for a subset give a labels "
            "file listing only the images present"
        )
    paths = sorted(chosen)
    notes = []
    unlabelled = len(set(present) - set(chosen))
    if unlabelled:
        notes.append(f"{unlabelled} image(s) in {root} have no label in {source}: not evaluated")
    return ImageList(root, paths, [chosen[p] for p in paths], classes, source, notes)


def _read_meta_mat(path: Path) -> dict[int, str]:
    try:
        import scipy.io
    except ImportError:
        raise UserError(
            f"{path}: reading meta.mat needs scipy (pip install scipy), or pass a text export "
            "with 'ILSVRC2012_ID WNID' per line"
        ) from None
    try:
        mat = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False)
    except Exception as e:  # noqa: BLE001 - scipy raises many types on a damaged file
        raise UserError(
            f"{path}: not a readable MATLAB file ({type(e).__name__}: {e}); give the devkit's "
            "data/meta.mat or a text export with 'ILSVRC2012_ID WNID' per line"
        ) from None
    try:
        return {int(s.ILSVRC2012_ID): str(s.WNID) for s in mat["synsets"]}
    except (KeyError, AttributeError, ValueError, TypeError) as e:
        raise UserError(
            f"{path}: not a devkit meta.mat with synsets(ILSVRC2012_ID, WNID) ({e})"
        ) from None
