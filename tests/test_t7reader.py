"""The Torch7 reader against files written by real Lua Torch7 and by other people."""

from __future__ import annotations

import contextlib
import filecmp
import os
import struct
import warnings

import numpy as np
import pytest

from converter.errors import NotTorch7Error, T7FormatError, UserError
from converter.torch7.objects import LuaBool, T7Object
from converter.torch7.reader import load_t7
from converter.torch7.writer import save_t7


def test_noncontiguous_views_match_torch(fixtures):
    d = load_t7(fixtures / "zoo" / "noncontiguous.t7")
    assert d["expanded"].stride == (0, 1)  # stride 0: a broadcast view
    assert d["column"].offset == 1  # Lua's storageOffset 2, 0-based here
    for key in ("transposed", "column", "offset_rows", "expanded"):
        np.testing.assert_array_equal(d[key].numpy(), d[f"{key}_expected"].numpy())


def test_misc_types(fixtures):
    d = load_t7(fixtures / "zoo" / "misc_types.t7")
    assert d["long"].numpy()[1, 2] == 1099511627776  # 8-byte longs
    assert d["char"].numpy().tolist() == [-128, 0, 127]
    assert d["short"].numpy().dtype == np.int16
    assert d["empty"].numel == 0 and d["empty"].numpy().size == 0
    assert d["integer_number"] == 42 and d["number"] == 3.25
    assert d["boolean_true"] is True and d["boolean_false"] is False
    assert d["list"] == [10, 20, 30]
    # Lua keeps the keys true and 1 apart; a plain Python dict would merge them.
    assert d["mixed"][LuaBool(True)] == "bool key" and d["mixed"][2.5] == "float key"
    assert d["nested"]["a"]["b"]["c"].numpy().shape == (2,)


def test_shared_storage_stays_shared(fixtures):
    d = load_t7(fixtures / "zoo" / "shared_storage.t7")
    a, b = d["module"]["modules"][0], d["module"]["modules"][2]
    assert a["weight"] is not b["weight"] and a["weight"].storage is b["weight"].storage
    t = d["tensors"]
    assert t["t"] is t["t_again"]
    np.testing.assert_array_equal(t["row2"].numpy(), t["t"].numpy()[1])
    np.testing.assert_array_equal(t["tT"].numpy(), t["t"].numpy().T)


def test_checkpoint_parameters_are_views_of_one_flat_storage(bundled):
    model = load_t7(bundled / "irv2_tiny.t7")
    conv = model["modules"][0]["modules"][0]["modules"][0]
    bn = model["modules"][0]["modules"][0]["modules"][1]
    assert conv.class_name == "cudnn.SpatialConvolution" and "bias" not in conv
    assert conv["weight"].storage is bn["weight"].storage
    assert conv["weight"].storage.size == 727176  # all parameters, as getParameters() left them
    assert bn["weight"].offset == 4 * 3 * 3 * 3  # right after the conv weight


def test_ascii_file_reads_like_binary(fixtures):
    d = load_t7(fixtures / "zoo" / "ascii_model.t7")
    conv, bn, relu = d["module"]["modules"]
    assert (conv.class_name, bn.class_name, relu.class_name) == (
        "nn.SpatialConvolution",
        "nn.SpatialBatchNormalization",
        "nn.ReLU",
    )
    assert conv["weight"].shape == (3, 2, 3, 3)
    assert d["list"] == [1, 2, 3] and d["string"] == "ascii" and d["flag"] is True
    assert d["output"].numpy().shape == (1, 3, 4, 4)


def _ascii_string(raw: bytes) -> bytes:
    return b"%d\n%s\n" % (len(raw), raw)


def _ascii_storage(index: int, kind: str, size: int, payload: bytes) -> bytes:
    """An ASCII storage object as torch.DiskFile writes it (each value list ends in a newline)."""
    header = b"4\n%d\n" % index + _ascii_string(b"V 1")
    class_name = _ascii_string(b"torch.%sStorage" % kind.encode())
    return header + class_name + b"%d\n" % size + payload + b"\n"


def test_ascii_raw_bytes_and_exact_longs(tmp_path):
    """DiskFile.c writes Byte/Char data (strings too) raw even in ASCII mode, and longs as %ld:
    a string may start with a newline, a ByteStorage may hold one, longs exceed 2**53."""
    big = 2**60 + 1
    entries = [
        (b"bytes", _ascii_storage(2, "Byte", 4, bytes([65, 10, 32, 255]))),
        (b"chars", _ascii_storage(3, "Char", 2, b"\n\x80")),
        (b"longs", _ascii_storage(4, "Long", 2, b"%d -3" % big)),
        (b"text", b"2\n" + _ascii_string(b"\nline")),
    ]
    body = b"".join(b"2\n" + _ascii_string(key) + value for key, value in entries)
    (tmp_path / "a.t7").write_bytes(b"3\n1\n%d\n" % len(entries) + body)
    d = load_t7(tmp_path / "a.t7")
    assert d["bytes"].read(0, 4).tolist() == [65, 10, 32, 255]
    assert d["chars"].read(0, 2).tolist() == [10, -128]
    assert d["longs"].read(0, 2).tolist() == [big, -3]
    assert d["text"] == "\nline"


def test_realworld_ascii_model_has_the_binary_twins_numbers(realworld):
    """torch/demos saved the face detector in both formats; the ASCII one with %g, i.e. six
    significant digits, so every value agrees to within half a unit of the sixth digit."""
    from converter.torch7 import modules as t7modules

    ascii_root = load_t7(realworld / "t7" / "torchdemos_face_net_ascii.net")
    binary_root = load_t7(realworld / "t7" / "torchdemos_face_binary.net")
    pairs = list(zip(t7modules.walk(ascii_root), t7modules.walk(binary_root)))
    worst, n = 0.0, 0
    for (path, a), (_, b) in pairs:
        assert a.class_name == b.class_name, path
        tensors = t7modules.state_tensors(a)
        assert tensors.keys() == t7modules.state_tensors(b).keys(), path
        for name, t in t7modules.state_tensors(b).items():
            x, y = tensors[name].numpy(), t.numpy()
            assert x.shape == y.shape and x.dtype == y.dtype == np.float64
            worst = max(worst, float((np.abs(x - y) / np.abs(y)).max()))
            n += 1
    print(f"\nASCII vs binary face net: {n} tensors, max relative difference {worst:.2e}")
    assert n == 8 and worst <= 5e-6


def test_cuda_typed_file_reads_as_float(fixtures, bundled):
    cuda = load_t7(fixtures / "tiny" / "irv2_tiny_cuda_emulated.t7")
    cpu = load_t7(bundled / "irv2_tiny.t7")
    w_cuda = cuda["modules"][0]["modules"][0]["modules"][0]["weight"]
    w_cpu = cpu["modules"][0]["modules"][0]["modules"][0]["weight"]
    assert (
        w_cuda.class_name == "torch.CudaTensor" and w_cuda.storage.class_name == "torch.CudaStorage"
    )
    np.testing.assert_array_equal(w_cuda.numpy(), w_cpu.numpy())


def test_storages_are_not_read_until_asked(bundled, monkeypatch):
    """Loading touches no storage bytes; .numpy() reads only the view's span."""
    from converter.torch7 import objects as t7reader

    reads = []
    original = t7reader.T7Storage.read
    monkeypatch.setattr(
        t7reader.T7Storage,
        "read",
        lambda self, start, count: reads.append(count) or original(self, start, count),
    )
    model = load_t7(bundled / "irv2_tiny.t7")
    assert reads == []
    model["modules"][0]["modules"][0]["modules"][0]["weight"].numpy()
    assert reads == [4 * 3 * 3 * 3]


def lazy_weights(folder) -> list:  # noqa: ANN001 - a Path
    """The convolution weights of the tiny IRv2 in `folder`, as T7Tensors still in the file."""
    from converter.torch7.modules import walk

    tree = load_t7(folder / "irv2_tiny.t7")
    return [m["weight"] for _, m in walk(tree) if "Convolution" in m.class_name]


def test_tensors_read_in_one_block_share_one_open_file(bundled, monkeypatch):
    """Inside `reading_files` (translate and the mapping use it) a network's tensors cost one
    open; outside it each read opens and closes the file, so no tree keeps it open."""
    import builtins

    from converter.torch7.objects import reading_files

    opened = []
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    weights = lazy_weights(bundled)
    opened.clear()
    with reading_files():
        inside = [w.numpy() for w in weights]
    assert len(inside) > 100 and len(opened) == 1
    opened.clear()
    outside = [w.numpy() for w in weights[:3]]
    assert len(opened) == 3 and all(np.array_equal(a, b) for a, b in zip(inside, outside))


def test_a_file_cut_short_after_the_load_is_refused(bundled, tmp_path):
    import shutil

    from converter.torch7.objects import reading_files

    path = tmp_path / "irv2_tiny.t7"
    shutil.copy(bundled / "irv2_tiny.t7", path)
    weights = lazy_weights(path.parent)
    last = max(weights, key=lambda w: w.storage.file_offset)
    with open(path, "r+b") as f:
        f.truncate(last.storage.file_offset + 4)  # its first element only
    for block in (reading_files, contextlib.nullcontext):
        with block(), pytest.raises(T7FormatError, match="file changed or truncated while"):
            last.numpy()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_process_forked_in_a_reading_block_reads_through_a_file_of_its_own(bundled):
    """Parent and child would otherwise share one file position between seek and read."""
    from converter.torch7 import objects

    weights = lazy_weights(bundled)
    with objects.reading_files():
        expected = weights[1].numpy()  # the parent opens the file
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork of a threaded process
            pid = os.fork()
        if pid == 0:  # the child: the same values, through a file it opened
            ok = False
            try:
                same = np.array_equal(weights[1].numpy(), expected)
                mine = (weights[1].storage.path, os.getpid()) in objects._READING.get().files
                ok = same and mine
            finally:
                os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


EXPECTED_REALWORLD = {
    "asexam_charrnn_model.t7": "nn.gModule",
    "henlisp_hw1_model.t7": "nn.Sequential",
    "torchdemos_face_binary.net": "nn.Sequential",
    "torchdemos_face_net_ascii.net": "nn.Sequential",
    "torchrnn_checkpoint_1000.t7": dict,
    "hideandseek_meanstdCache.t7": dict,
    "fbresnet_latest_checkpoint.t7": dict,
}
REJECTED_REALWORLD = {
    "jbr97_deepmask_model.t7": (T7FormatError, "truncated file"),
    "not_lua/git_lfs_pointer_model.t7": (NotTorch7Error, "Git LFS pointer"),
    "not_lua/pytorch_legacy_pickle_named_model.t7": (NotTorch7Error, "torch.load"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_REALWORLD))
def test_realworld_files_read(realworld, name):
    obj = load_t7(realworld / "t7" / name)
    expected = EXPECTED_REALWORLD[name]
    if isinstance(expected, str):
        assert isinstance(obj, T7Object) and obj.class_name == expected
    else:
        assert isinstance(obj, expected)


def test_realworld_details(realworld):
    rnn = load_t7(realworld / "t7" / "torchrnn_checkpoint_1000.t7")
    lookup = rnn["model"]["net"]["modules"][0]
    assert (lookup.class_name, lookup.version) == ("nn.LookupTable", 4)  # a "V 4" class
    latest = load_t7(realworld / "t7" / "fbresnet_latest_checkpoint.t7")
    assert latest == {"epoch": 1, "optimFile": "optimState_1.t7", "modelFile": "model_1.t7"}
    cuda = load_t7(realworld / "t7" / "henlisp_hw1_model.t7")
    fc = cuda["modules"][1]
    assert fc["weight"].class_name == "torch.CudaTensor" and fc["weight"].numpy().shape == (64, 784)
    face = load_t7(realworld / "t7" / "torchdemos_face_binary.net")
    conv = face["modules"][1]
    assert conv["weight"].class_name == "torch.DoubleTensor"
    assert conv["weight"].numpy().dtype == np.float64 and conv["weight"].shape == (8, 1, 5, 5)


@pytest.mark.parametrize("name", sorted(REJECTED_REALWORLD))
def test_realworld_non_torch_files_are_named(realworld, name):
    error, words = REJECTED_REALWORLD[name]
    with pytest.raises(error, match=words) as info:
        load_t7(realworld / "t7" / name)
    assert "\n" not in str(info.value) and name.split("/")[-1] in str(info.value)
    print(info.value)


def test_deep_nesting_is_an_error_not_a_crash(tmp_path):
    one_level = b"".join(  # {[1] = <next level>}: type table, index, 1 entry, key 1.0
        struct.pack("<iiiid", 3, i + 1, 1, 1, 1.0) for i in range(5000)
    )
    (tmp_path / "deep.t7").write_bytes(one_level + struct.pack("<i", 0))
    with pytest.raises(T7FormatError, match="nested deeper"):
        load_t7(tmp_path / "deep.t7")


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "empty"),
        (b"\x09\x00\x00\x00", "not a Torch7 file"),
        (b"PK\x03\x04rest", "ZIP"),
        (b"\x89HDF\r\n\x1a\n", "HDF5"),
        (b"\x03\x00\x00\x00\x01\x00\x00\x00\xff\xff\xff\x7f", "table"),
        (struct.pack("<iii", 4, 1, 5) + b"V inf", "corrupt class version 'V inf'"),
        (struct.pack("<iii", 4, 1, 5) + b"V 1.x", "corrupt class version 'V 1.x'"),
    ],
)
def test_bad_files_give_one_line(tmp_path, content, words):
    path = tmp_path / "model.t7"
    path.write_bytes(content)
    with pytest.raises(UserError, match=words) as info:
        load_t7(path)
    assert "\n" not in str(info.value)


def test_bounds_check_rejects_a_view_past_its_storage(tmp_path, bundled):
    """A corrupt size must not make the reader touch bytes outside the storage."""
    model = load_t7(bundled / "irv2_tiny.t7")
    conv = model["modules"][0]["modules"][0]["modules"][0]
    conv["weight"].shape = (4, 3, 3, 3000000)
    save_t7(model, tmp_path / "corrupt.t7")
    with pytest.raises(T7FormatError, match="reaches element"):
        load_t7(tmp_path / "corrupt.t7")


@pytest.mark.parametrize(
    "name",
    ["zoo/residual_block.t7", "zoo/misc_types.t7", "zoo/shared_storage.t7", "tiny/ckpt/latest.t7"],
)
def test_writer_rewrites_torch7_files_byte_for_byte(fixtures, tmp_path, name):
    save_t7(load_t7(fixtures / name), tmp_path / "again.t7")
    assert filecmp.cmp(fixtures / name, tmp_path / "again.t7", shallow=False)


def test_writer_rewrites_bundled_checkpoint_byte_for_byte(bundled, tmp_path):
    save_t7(load_t7(bundled / "irv2_tiny.t7"), tmp_path / "again.t7")
    assert filecmp.cmp(bundled / "irv2_tiny.t7", tmp_path / "again.t7", shallow=False)
