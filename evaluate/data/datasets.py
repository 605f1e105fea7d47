"""Validation image lists and their labels, in the layouts people actually have.

Class index i is the i-th synset in sorted order, as fb.resnet.torch's imagenet-gen.lua and
torchvision's ImageFolder both number them. Two layouts:

* class folders: DATA/n01440764/*.JPEG ... (classes = sorted sub-directory names, empty ones
  allowed, files found recursively with an image extension);
* a flat folder plus a labels file, one of
  - Kaggle `LOC_val_solution.csv` (`ImageId,PredictionString`, first token = synset): the class
    order comes from `--classes` or from `LOC_synset_mapping.txt` beside the csv;
  - the devkit's `ILSVRC2012_validation_ground_truth.txt` (one ILSVRC2012_ID per line, for
    ILSVRC2012_val_00000001, 00000002, ...): those IDs are NOT the sorted-synset order, so the
    devkit's `data/meta.mat` (read with scipy when installed) or a text export of it
    (`ILSVRC2012_ID WNID` per line) must be given as `--devkit-meta`;
  - plain text, `filename label` per line: label is a 0-based class index, or a synset when a
    class list (`--classes`) is given; `#` starts a comment.

A `--classes` file holds one synset per line (extra words after it are ignored, so
LOC_synset_mapping.txt works as is); line i is class index i.

Any file this module cannot use is reported, never dropped silently: `ImageList.notes` says what
was left out and why.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from converter.errors import UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
KAGGLE_HEADER = "ImageId,PredictionString"
SYNSET_MAPPING_NAME = "LOC_synset_mapping.txt"
DEVKIT_VAL_STEM = "ILSVRC2012_val_{:08d}"
_SYNSET = re.compile(r"^n\d{8}$")
_EXAMPLES = 3  # how many names an error message shows


@dataclass(frozen=True)
class ImageList:
    """The images to evaluate, in evaluation order, with 0-based labels."""

    root: Path
    paths: list[Path]
    labels: list[int]
    classes: list[str] | None  # synset of each class index, when the layout says
    source: str  # how the labels were found, for the summary
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)

    def relpath(self, i: int) -> str:
        return os.path.relpath(self.paths[i], self.root)

    def limit(self, n: int | None) -> ImageList:
        """The first n images (for quick checks); the notes say so."""
        if n is None or n >= len(self):
            return self
        if n < 1:
            raise UserError(f"--limit {n}: must be a positive number of images")
        note = f"--limit {n}: evaluating the first {n} of {len(self)} images"
        return replace(
            self, paths=self.paths[:n], labels=self.labels[:n], notes=[*self.notes, note]
        )

    def check_num_classes(self, num_classes: int) -> None:
        """Refuse labels the model cannot predict, before any image is read."""
        if self.classes is not None and len(self.classes) != num_classes:
            raise UserError(
                f"{self.root}: {len(self.classes)} classes (from {self.source}) but the model "
                f"has {num_classes} outputs; point --data at the full validation set "
                f"({num_classes} class folders) or pass the model trained on these classes"
            )
        bad = [i for i, label in enumerate(self.labels) if not 0 <= label < num_classes]
        if bad:
            raise UserError(
                f"{self.root}: label {self.labels[bad[0]]} of {self.relpath(bad[0])} is out of "
                f"range for a model with {num_classes} classes (0..{num_classes - 1}); "
                f"{len(bad)} image(s) affected"
            )


def open_images(
    data: str | Path,
    labels: str | Path | None = None,
    classes: str | Path | None = None,
    devkit_meta: str | Path | None = None,
) -> ImageList:
    """The image list for `--data` (class folders), or for `--data` + `--labels` (flat folder)."""
    root = Path(data)
    if not root.is_dir():
        what = "not a directory" if root.exists() else "no such directory"
        raise UserError(f"{root}: {what} (--data must be a folder of images)")
    if labels is None:
        if devkit_meta is not None:
            raise UserError("--devkit-meta is only used with --labels (the devkit ground truth)")
        images = class_folders(root)
        if classes is not None:
            _check_folder_classes(images, read_class_list(Path(classes)), Path(classes))
        return images
    return labelled_folder(
        root,
        Path(labels),
        None if classes is None else Path(classes),
        None if devkit_meta is None else Path(devkit_meta),
    )


def class_folders(root: Path) -> ImageList:
    """DATA/<synset>/**/<image>: classes are the sorted sub-directory names."""
    class_names = sorted(e.name for e in os.scandir(root) if e.is_dir())
    if not class_names:
        loose = _image_files(root)
        if loose:
            raise UserError(
                f"{root}: holds {len(loose)} images but no class folders; for a flat folder "
                "pass --labels FILE (LOC_val_solution.csv, ILSVRC2012_validation_ground_truth"
                ".txt or a 'filename label' list)"
            )
        raise UserError(
            f"{root}: empty; expected one folder per class (e.g. {root}/n01440764/*.JPEG)"
        )
    paths: list[Path] = []
    labels: list[int] = []
    ignored = 0
    for index, name in enumerate(class_names):
        found, others = _split_images(_walk(root / name))
        paths += found
        labels += [index] * len(found)
        ignored += others
    if not paths:
        raise UserError(
            f"{root}: {len(class_names)} class folders but no image files in any "
            f"(looked for {', '.join(IMAGE_EXTENSIONS)})"
        )
    notes = []
    if ignored:
        notes.append(f"{ignored} file(s) without an image extension were not evaluated")
    return ImageList(root, paths, labels, class_names, "class folders", notes)


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


class ImageDataset:
    """Map-style dataset over an ImageList: item k -> (image or None, label, error or None).

    An unreadable image comes back as its error message instead of an exception: a DataLoader
    worker would wrap the exception in a multi-line traceback, and the caller decides whether a
    bad image stops the run or is skipped (and listed).
    """

    def __init__(self, images: ImageList, transform: Callable[[Path], Any]) -> None:
        self.images = images
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, k: int) -> tuple[Any, int, str | None]:
        path = self.images.paths[k]
        try:
            return self.transform(path), self.images.labels[k], None
        except UserError as e:
            message = str(e)
            if str(path) not in message:
                message = f"{path}: {message}"
            return None, self.images.labels[k], message


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


def _check_folder_classes(images: ImageList, classes: list[str], classes_file: Path) -> None:
    if classes != images.classes:
        missing = [c for c in classes if c not in set(images.classes or [])]
        raise UserError(
            f"{images.root}: its {len(images.classes or [])} class folders do not match the "
            f"{len(classes)} classes of {classes_file} in order"
            + (f" (missing e.g. {', '.join(missing[:_EXAMPLES])})" if missing else "")
            + "; class folders define the classes themselves, drop --classes or fix the list"
        )


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
    present = _image_files(root)
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


def _walk(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames.sort()
        found += [Path(dirpath) / f for f in sorted(filenames)]
    return found


def _split_images(files: Sequence[Path]) -> tuple[list[Path], int]:
    images = [f for f in files if f.suffix.lower() in IMAGE_EXTENSIONS]
    return images, len(files) - len(images)


def _image_files(folder: Path) -> list[Path]:
    """Images directly in `folder` (a flat validation folder is not walked)."""
    return _split_images(sorted(p for p in folder.iterdir() if p.is_file()))[0]


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
