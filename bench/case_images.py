"""Case 6, images: decode and save a 4 MB PNG data URI, against ``base64.b64decode`` alone.

The PNG is real (IHDR, IDAT, IEND with CRCs) and incompressible: random pixels stored by
zlib, so the file is about 4 MiB and the data URI about 5.6 MB. The SDK's public path is
``ImageResponse.from_wire({"images": [uri]})`` then ``.image_bytes()`` (decode) or
``.save(path)`` (decode, sniff the type, write to a temporary file, fsync, rename). The
baselines are what a hand-written script does: slice off the header, ``base64.b64decode``,
and ``open(path, "wb").write(...)``. Peak memory is tracemalloc's peak above what was
allocated before the call (the data URI itself already exists).
"""

from __future__ import annotations

import base64
import os
import random
import struct
import sys
import tempfile
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import CaseResult, Context, Target, median, profile_text, ratio, x

from deepinfra_sdk import ImageResponse

DECODE = "base64.b64decode"
DECODE_WRITE = "base64.b64decode + write"
DECODE_WRITE_SYNC = "base64.b64decode + write + fsync + rename"
SDK_BYTES = "deepinfra_sdk ImageResponse.image_bytes()"
SDK_SAVE = "deepinfra_sdk ImageResponse.save(path)"


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def noise_png(target_bytes: int, seed: int = 0) -> bytes:
    """A valid RGB PNG of random pixels, about ``target_bytes`` long (noise does not compress)."""
    width = 1024
    height = max(1, target_bytes // (width * 3 + 1))
    rng = random.Random(seed)
    raw = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw, 1))
        + _chunk(b"IEND", b"")
    )


def _peak(fn: Callable[[], object]) -> int:
    """Bytes allocated at the peak of ``fn`` above what was live when it started."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def run(ctx: Context) -> CaseResult:
    """Targets: SDK <= 1.5x the baseline's time; peak memory <= 3x the image's size."""
    size, rounds = (256 * 1024, 3) if ctx.quick else (4 * 1024 * 1024, 15)
    png = noise_png(size)
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    result = CaseResult(
        key="images",
        title="6. Image decode and save",
        setup=(
            f"A {len(png) / 2**20:.2f} MiB PNG (random pixels) as a {len(uri) / 2**20:.2f} MiB "
            f"data URI; {rounds} rounds alternating, median ms; peak = tracemalloc peak above "
            "the memory in use before the call, in multiples of the image's size. Files go "
            "to a temporary directory on the work disk."
        ),
        columns=["path", "ms", "vs its baseline", "peak MiB", "peak / image"],
    )
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        plain, synced, sdk_dest = (Path(tmp, n) for n in ("plain.png", "synced.png", "sdk.png"))

        def b64() -> bytes:
            return base64.b64decode(uri[uri.index(",") + 1 :])

        def b64_write() -> None:
            with open(plain, "wb") as f:
                f.write(b64())

        def b64_write_sync() -> None:
            tmp_path = synced.with_suffix(".tmp")
            with open(tmp_path, "wb") as f:
                f.write(b64())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp_path, synced)

        def sdk_bytes() -> bytes:
            return ImageResponse.from_wire({"images": [uri]}).image_bytes()

        def sdk_save() -> None:
            ImageResponse.from_wire({"images": [uri]}).save(sdk_dest)

        paths: dict[str, Callable[[], object]] = {
            DECODE: b64,
            SDK_BYTES: sdk_bytes,
            DECODE_WRITE: b64_write,
            DECODE_WRITE_SYNC: b64_write_sync,
            SDK_SAVE: sdk_save,
        }
        baseline_of = {
            DECODE: DECODE,
            SDK_BYTES: DECODE,
            DECODE_WRITE: DECODE_WRITE,
            DECODE_WRITE_SYNC: DECODE_WRITE,
            SDK_SAVE: DECODE_WRITE,
        }
        if sdk_bytes() != png or b64() != png:
            raise RuntimeError("decoding the data URI did not give the PNG back")
        for fn in paths.values():  # warm-up (and the files exist, as when overwriting)
            fn()
        if sdk_dest.read_bytes() != png:
            raise RuntimeError("ImageResponse.save wrote something else than the PNG")
        times: dict[str, list[float]] = {name: [] for name in paths}
        names = list(paths)
        for r in range(rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                started = time.perf_counter()
                paths[name]()
                times[name].append(time.perf_counter() - started)
        peaks = {name: _peak(fn) for name, fn in paths.items()}
        medians = {name: median(v) for name, v in times.items()}
        for name in names:
            base = baseline_of[name]
            vs = "" if base == name else x(ratio(medians[name], medians[base]))
            result.rows.append(
                [
                    name,
                    f"{medians[name] * 1000:.2f}",
                    vs,
                    f"{peaks[name] / 2**20:.2f}",
                    x(peaks[name] / len(png)),
                ]
            )
        decode_vs = ratio(medians[SDK_BYTES], medians[DECODE])
        save_vs = ratio(medians[SDK_SAVE], medians[DECODE_WRITE])
        result.targets += [
            Target("SDK decode <= 1.5x base64.b64decode", x(decode_vs), decode_vs <= 1.5),
            Target("SDK decode + save <= 1.5x b64decode + write", x(save_vs), save_vs <= 1.5),
            Target(
                "SDK save peak memory <= 3x the image",
                x(peaks[SDK_SAVE] / len(png)),
                peaks[SDK_SAVE] <= 3 * len(png),
            ),
        ]
        result.raw = {
            "png_bytes": len(png),
            "uri_chars": len(uri),
            "rounds": rounds,
            "seconds": times,
            "medians": medians,
            "peak_bytes": peaks,
        }
        if ctx.profile and result.missed_speed():
            result.profile = profile_text(sdk_save, title="one ImageResponse.save")
    return result
