"""PNG decoding through libspng (pyspng), pixel for pixel what OpenCV decodes.

The challenge's images are PNGs and decoding them is most of the uncached training
pipeline's time; libspng decodes the same data faster than OpenCV's libpng. It is
used only where its pixels are known to be OpenCV's (``cv2.imdecode`` with
``IMREAD_COLOR``, mmcv's ``'color'``): :func:`decode_png_bgr` returns None for every
other file, and the caller decodes it with OpenCV as before. That includes
everything OpenCV treats specially or refuses: 16-bit samples (OpenCV shifts them to
8 bits), grey with alpha (pyspng has no such output), Adam7 interlacing, an
``eXIf`` chunk (OpenCV applies its orientation), animation or any chunk not listed
in :data:`SAFE_CHUNKS`, a chunk failing its CRC or a file cut short (libpng refuses
those; libspng, as pyspng sets it up, would decode them).
"""
import struct
from typing import Optional

import cv2
import numpy as np

from parkdet_challenge.imagefiles import PNG_SIGNATURE, iter_png_chunks

try:
    import pyspng
except ImportError:  # OpenCV decodes everything
    pyspng = None

# Chunks that change nothing in the pixels either decoder gives with the options
# used here (no gamma or colour-space correction, alpha dropped, no background
# compositing), besides the image data itself.
SAFE_CHUNKS = frozenset((b'IHDR', b'PLTE', b'IDAT', b'IEND', b'tRNS', b'gAMA',
                         b'cHRM', b'sRGB', b'iCCP', b'sBIT', b'bKGD', b'hIST',
                         b'pHYs', b'sPLT', b'tIME', b'tEXt', b'zTXt', b'iTXt'))
# IHDR colour types: grey, RGB, palette, RGBA (not grey + alpha: pyspng refuses it)
_COLOUR_TYPES = (0, 2, 3, 6)
# pyspng's output channels -> the conversion to OpenCV's BGR
_TO_BGR = {1: cv2.COLOR_GRAY2BGR, 3: cv2.COLOR_RGB2BGR, 4: cv2.COLOR_RGBA2BGR}


def spng_available() -> bool:
    """Whether pyspng is installed (else :func:`decode_png_bgr` always says None)."""
    return pyspng is not None


def spng_decodable(data: bytes) -> bool:
    """Whether ``data`` is a whole, CRC-clean PNG that libspng decodes to exactly
    OpenCV's ``IMREAD_COLOR`` pixels: at most 8 bits a sample, not interlaced, no
    grey + alpha, only :data:`SAFE_CHUNKS`."""
    if not data.startswith(PNG_SIGNATURE):
        return False
    try:
        chunks = iter_png_chunks(memoryview(data))
        kind, header = next(chunks)
        if kind != b'IHDR' or len(header) != 13:
            return False
        bit_depth, colour_type, _, _, interlace = struct.unpack_from('>5B', header, 8)
        if bit_depth > 8 or colour_type not in _COLOUR_TYPES or interlace:
            return False
        return all(kind in SAFE_CHUNKS for kind, _ in chunks)
    except ValueError:  # broken: left to OpenCV, which refuses it
        return False


def decode_png_bgr(data: bytes) -> Optional[np.ndarray]:
    """The (height, width, 3) uint8 BGR pixels of PNG ``data`` decoded by libspng,
    identical to ``cv2.imdecode(data, cv2.IMREAD_COLOR)``; None when pyspng is not
    installed, ``data`` is not :func:`spng_decodable` or libspng fails (decode it
    with OpenCV then)."""
    if pyspng is None or not spng_decodable(data):
        return None
    try:
        img = pyspng.load(data)
    except RuntimeError:
        return None
    channels = 1 if img.ndim == 2 else img.shape[2]
    if img.dtype != np.uint8 or channels not in _TO_BGR:
        return None
    return cv2.cvtColor(img, _TO_BGR[channels])
