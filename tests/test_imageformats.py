"""Image formats Torch7's image.load refused (BMP, TIFF, WebP) are decoded through Pillow, and
PNG/JPEG variants users have (grey, grey+alpha, 16-bit, palette) through the Torch rules.

There are no Torch7 pixels for BMP/TIFF/WebP, so the reference is the pixels that were saved
(lossless formats): the same pixels as a PNG, whose path is Torch-exact (tests/test_transforms.py
on the Torch7-written references), must give the same model input bit for bit in both
--preprocess modes.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from evaluate.data.imagedecode import BadImageError, decode_image
from evaluate.data.preprocess import ValTransform

RNG = np.random.default_rng(21)
PIXELS = RNG.integers(0, 256, (37, 52, 3), dtype=np.uint8)  # not square, odd height
LOSSLESS = {
    "bmp": {},
    "tif": {},
    "tiff": {"compression": "tiff_lzw"},
    "webp": {"lossless": True, "exact": True},
}


def save(im: Image.Image, path, **kw):
    im.save(path, **kw)
    return path


@pytest.mark.parametrize("suffix", sorted(LOSSLESS))
def test_rgb_file_decodes_to_the_saved_pixels(tmp_path, suffix):
    path = save(Image.fromarray(PIXELS), tmp_path / f"a.{suffix}", **LOSSLESS[suffix])
    got = decode_image(path)
    print(suffix, "max|d| =", np.abs(got.astype(int) - PIXELS).max())
    assert got.dtype == np.uint8 and np.array_equal(got, PIXELS)


@pytest.mark.parametrize("suffix", sorted(LOSSLESS))
def test_grey_and_alpha_follow_torchs_png_rules(tmp_path, suffix):
    grey = PIXELS[..., 0]
    path = save(Image.fromarray(grey), tmp_path / f"g.{suffix}", **LOSSLESS[suffix])
    assert np.array_equal(decode_image(path), np.repeat(grey[..., None], 3, axis=2))
    if suffix == "bmp":  # Pillow writes no alpha into a BMP
        return
    rgba = np.concatenate([PIXELS, RNG.integers(0, 256, (37, 52, 1), dtype=np.uint8)], axis=2)
    path = save(Image.fromarray(rgba), tmp_path / f"rgba.{suffix}", **LOSSLESS[suffix])
    assert np.array_equal(decode_image(path), PIXELS)  # alpha dropped, not composited


def test_16_bit_keeps_the_high_byte_in_tiff_as_in_png(tmp_path):
    wide = RNG.integers(0, 65536, (9, 11), dtype=np.uint16)
    for suffix in ("tif", "png"):
        path = save(Image.fromarray(wide), tmp_path / f"w.{suffix}")
        assert np.array_equal(decode_image(path)[..., 1], (wide >> 8).astype(np.uint8)), suffix


def test_grey_alpha_png_is_its_grey_channel(tmp_path):
    la = Image.fromarray(PIXELS[..., :2].copy(), "LA")
    got = decode_image(save(la, tmp_path / "la.png"))
    assert np.array_equal(got, np.repeat(PIXELS[..., :1], 3, axis=2))


def test_cmyk_tiff_is_pillows_rgb_not_the_jpeg_rule(tmp_path):
    cmyk = Image.fromarray(PIXELS).convert("CMYK")
    got = decode_image(save(cmyk, tmp_path / "c.tif"))
    assert np.array_equal(got, np.asarray(cmyk.convert("RGB")))


def test_float_samples_are_refused_in_one_line(tmp_path):
    path = save(Image.fromarray(PIXELS[..., 0].astype(np.float32)), tmp_path / "f.tif")
    with pytest.raises(BadImageError) as e:
        decode_image(path)
    message = str(e.value)
    print(message)
    assert "f.tif" in message and "0-255" in message and "\n" not in message


def test_a_riff_file_that_is_not_webp_is_refused_by_its_bytes(tmp_path):
    path = tmp_path / "sound.webp"
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40))
    with pytest.raises(BadImageError, match="not a JPEG, PNG, PPM/PGM, BMP, TIFF or WebP file"):
        decode_image(path)


@pytest.mark.parametrize("mode", ["torch7", "fast"])
@pytest.mark.parametrize("crops", [1, 10])
def test_model_input_equals_the_pngs_in_both_preprocess_modes(tmp_path, mode, crops):
    png = save(Image.fromarray(PIXELS), tmp_path / "ref.png")
    transform = ValTransform(mode, crops, scale_size=40, crop_size=32)
    reference = transform(png)
    for suffix, kw in LOSSLESS.items():
        got = transform(save(Image.fromarray(PIXELS), tmp_path / f"x.{suffix}", **kw))
        d = (got.double() - reference.double()).abs().max().item()
        print(mode, crops, suffix, "max|d| =", d)
        assert got.shape == reference.shape and d == 0.0
