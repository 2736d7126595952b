"""libspng decodes PNGs to exactly OpenCV's pixels, or leaves them to OpenCV.

The loading transform decodes PNGs with libspng (pyspng) where that gives the same
pixels as ``cv2.imdecode(IMREAD_COLOR)``: checked here on the demo's images and on
challenge-like 1920x1080 frames saved by OpenCV and by PIL in every 8-bit layout the
loader may meet; the files libspng would decode differently (EXIF orientation,
16-bit, grey + alpha, interlaced, broken) must come back as None and be decoded by
OpenCV, so that the transform's output never differs from OpenCV's.
"""
import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from parkdet_challenge.demo import make_demo_data
from parkdet_mm.datasets.png_decoding import decode_png_bgr, spng_decodable
from parkdet_mm.datasets.transforms import LoadImageFromFileOrCache

pytest.importorskip('pyspng')


def opencv_pixels(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def pil_png(image: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format='PNG', **kwargs)
    return buf.getvalue()


def chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack('>I', len(payload)) + kind + payload
            + struct.pack('>I', zlib.crc32(kind + payload)))


def with_chunks(png: bytes, *chunks: bytes) -> bytes:
    """``png`` with ``chunks`` inserted right after its IHDR."""
    return png[:33] + b''.join(chunks) + png[33:]


def road_frame(seed: int = 0, size=(1920, 1080)) -> np.ndarray:
    """A 1920x1080 BGR frame like a parking camera's: gradients, noise, boxes."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    base = (x * 0.11 + y * 0.07) % 256
    img = np.stack([base, np.roll(base, 40, 1), base[::-1]], -1)
    img = (img + rng.normal(0, 3, img.shape)).clip(0, 255).astype(np.uint8)
    for _ in range(12):
        w, h = (int(v) for v in rng.integers(40, 400, 2))
        x0, y0 = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
        cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h),
                      tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
    return img


def adam7_png(rgb: np.ndarray) -> bytes:
    """An interlaced (Adam7) 8-bit RGB PNG of ``rgb``, which neither OpenCV nor PIL
    writes."""
    height, width = rgb.shape[:2]
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
              (1, 0, 2, 2), (0, 1, 1, 2))
    raw = b''
    for x0, y0, dx, dy in passes:
        sub = rgb[y0::dy, x0::dx]
        if sub.size:
            raw += b''.join(b'\0' + row.tobytes() for row in sub)
    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 1)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header)
            + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))


def palette_image(bgr: np.ndarray, colours: int) -> Image.Image:
    """``bgr`` as a palette image of ``colours`` entries (PIL's adaptive palette
    takes seconds at this size)."""
    image = Image.fromarray((bgr[..., 1].astype(np.uint16) * colours // 256)
                            .astype(np.uint8), mode='P')
    palette = np.random.default_rng(colours).integers(0, 256, (colours, 3))
    image.putpalette(palette.astype(np.uint8).tobytes())
    return image


@pytest.fixture(scope='module')
def challenge_like_pngs() -> tuple:
    """8-bit PNGs of one 1920x1080 frame in each layout the loader may meet (those
    libspng decodes), and the files left to OpenCV."""
    bgr = road_frame()
    rgb = Image.fromarray(bgr[..., ::-1])
    grey = rgb.convert('L')
    alpha = np.random.default_rng(1).integers(0, 256, bgr.shape[:2], np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: OpenCV turns the image 90 degrees
    pngs = {
        'opencv rgb': cv2.imencode('.png', bgr)[1].tobytes(),
        'opencv rgb level 1': cv2.imencode(
            '.png', bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes(),
        'opencv rgba': cv2.imencode('.png', np.dstack([bgr, alpha]))[1].tobytes(),
        'opencv grey': cv2.imencode('.png', bgr[..., 1])[1].tobytes(),
        'pil rgb': pil_png(rgb),
        'pil rgb level 1': pil_png(rgb, compress_level=1),
        'pil rgba': pil_png(Image.fromarray(np.dstack([bgr[..., ::-1], alpha])),
                            compress_level=1),
        'pil grey': pil_png(grey, compress_level=1),
        'pil 1-bit': pil_png(grey.convert('1', dither=Image.Dither.NONE)),
        'pil palette': pil_png(palette_image(bgr, 256), compress_level=1),
        'pil 4-bit palette': pil_png(palette_image(bgr, 16), bits=4,
                                     compress_level=1),
        'pil palette + tRNS': pil_png(palette_image(bgr, 256), transparency=3,
                                      compress_level=1),
        'pil rgb + tRNS': pil_png(rgb, transparency=(10, 20, 30), compress_level=1),
        'pil grey + tRNS': pil_png(grey, transparency=7, compress_level=1),
    }
    # colour metadata neither decoder applies
    pngs['rgb + gAMA, cHRM, sBIT, bKGD, pHYs, tEXt'] = with_chunks(
        pngs['pil rgb'], chunk(b'gAMA', struct.pack('>I', 45455)),
        chunk(b'cHRM', struct.pack('>8I', 31270, 32900, 64000, 33000, 30000,
                                   60000, 15000, 6000)),
        chunk(b'sBIT', b'\x05\x06\x05'), chunk(b'bKGD', b'\0\0\0\0\0\0'),
        chunk(b'pHYs', struct.pack('>IIB', 2835, 2835, 1)),
        chunk(b'tEXt', b'Software\0parking camera'))
    left_to_opencv = {
        'pil rgb + eXIf (orientation)': pil_png(rgb, exif=exif.tobytes(),
                                                compress_level=1),
        'opencv 16-bit': cv2.imencode('.png', bgr.astype(np.uint16) * 257,
                                      [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes(),
        'pil grey + alpha': pil_png(grey.convert('LA'), compress_level=1),
        'adam7 interlaced': adam7_png(np.asarray(rgb)[:64, :96]),
        'private chunk': with_chunks(pngs['pil rgb'], chunk(b'prVt', b'x')),
    }
    return pngs, left_to_opencv


def test_challenge_like_pngs_decode_to_opencvs_pixels(challenge_like_pngs) -> None:
    decoded, left = challenge_like_pngs
    for name, data in decoded.items():
        assert spng_decodable(data), name
        ours = decode_png_bgr(data)
        assert ours is not None, name
        assert ours.dtype == np.uint8 and ours.shape == (1080, 1920, 3), name
        np.testing.assert_array_equal(ours, opencv_pixels(data), err_msg=name)
    for name, data in left.items():
        assert decode_png_bgr(data) is None, name
        assert opencv_pixels(data) is not None, name  # OpenCV decodes them


def test_demo_images_decode_to_opencvs_pixels(tmp_path: Path) -> None:
    make_demo_data(tmp_path, n_train=12, n_test=3, seed=3)
    files = sorted(tmp_path.rglob('*.png'))
    assert len(files) == 15
    for path in files:
        data = path.read_bytes()
        np.testing.assert_array_equal(decode_png_bgr(data), opencv_pixels(data),
                                      err_msg=str(path))


def test_loading_transform_reads_opencvs_pixels_and_refuses_what_opencv_refuses(
        tmp_path: Path, challenge_like_pngs) -> None:
    decoded, left = challenge_like_pngs
    png = decoded['pil rgb']
    files = {
        'spng.png': png,
        'exif.png': left['pil rgb + eXIf (orientation)'],
        'interlaced.png': left['adam7 interlaced'],
    }
    # a flipped byte in the image data: libpng refuses it on the CRC
    broken = bytearray(png)
    broken[len(png) // 2] ^= 0xFF
    files['crc.png'] = bytes(broken)
    files['cut.png'] = png[:len(png) // 2]
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    spng = LoadImageFromFileOrCache()
    opencv = LoadImageFromFileOrCache(png_decoder='cv2')
    assert spng.decode_png and not opencv.decode_png
    for name in ('spng.png', 'exif.png', 'interlaced.png'):
        path = str(tmp_path / name)
        np.testing.assert_array_equal(spng.read_image(path), opencv.read_image(path),
                                      err_msg=name)
    for name in ('crc.png', 'cut.png'):
        assert not spng_decodable(files[name])
        for transform in (spng, opencv):
            with pytest.raises(OSError):
                transform.read_image(str(tmp_path / name))
    with pytest.raises(ValueError, match='png_decoder'):
        LoadImageFromFileOrCache(png_decoder='libpng')


def test_training_loads_through_libspng(tmp_path, tiny_coco) -> None:
    """The configs name mmcv's LoadImageFromFile; training swaps in the loading
    transform that decodes PNGs with libspng (ImageCacheHook, with or without a
    cache), the tiny demo's images to OpenCV's pixels."""
    from conftest import write_tiny_config
    from mmengine.registry import init_default_scope

    from mmyolo.registry import DATASETS
    from parkdet_mm.config import load_config
    from parkdet_mm.datasets.pipelines import iter_transforms
    from parkdet_mm.engine.hooks.image_cache_hook import make_loading_cache_aware
    cfg = load_config(str(write_tiny_config(tmp_path / 'tiny.py', tiny_coco)))
    init_default_scope('mmyolo')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert make_loading_cache_aware(dataset) == 2  # the sample's and Mosaic's
    loads = [t for t in iter_transforms(dataset.pipeline)
             if isinstance(t, LoadImageFromFileOrCache)]
    assert len(loads) == 2 and all(t.decode_png for t in loads)
    path = dataset.get_data_info(0)['img_path']
    np.testing.assert_array_equal(loads[0].read_image(path),
                                  opencv_pixels(Path(path).read_bytes()))
