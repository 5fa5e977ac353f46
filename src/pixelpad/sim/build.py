"""Build the clock shim from its C source with the system compiler, once per source version.

The shared library lives in a per-user cache directory keyed by a hash of the sources and the
compiler command, so editing the C file rebuilds it and concurrent builders never see a half-written
file (each compiles to a private temporary name, then renames atomically). ``make install`` runs
``python -m pixelpad.sim.build`` so the first game start does not pay for the compile.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

from pixelpad.paths import cache_root
from pixelpad.sim.errors import ShimBuildError

log = logging.getLogger(__name__)

SOURCES = ("pixelpad_shim.c", "pixelpad_sdl.c", "pixelpad_shim.h", "pixelpad_internal.h")
LIBRARY_NAME = "libpixelpad_shim.so"
CFLAGS = ("-O2", "-fPIC", "-shared", "-Wall", "-Wno-nonnull-compare", "-std=gnu11")
LIBS = ("-ldl", "-lpthread")


def cache_dir() -> Path:
    """Where built shims live: ``shim/`` under :func:`pixelpad.paths.cache_root`."""
    return cache_root() / "shim"


def _compiler() -> str:
    cc = os.environ.get("CC", "gcc")
    path = shutil.which(cc)
    if path is None:
        raise ShimBuildError(
            f"no C compiler {cc!r} found: the clock shim is built from source; install gcc and libc6-dev "
            "(make install does) or set CC"
        )
    return path


def shim_path() -> Path:
    """Return the built shim library, compiling it first if this source version was never built."""
    src_dir = resources.files("pixelpad.sim") / "shim"
    texts = {name: (src_dir / name).read_bytes() for name in SOURCES}
    cc = _compiler()
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update(name.encode() + b"\0" + texts[name])
    digest.update(" ".join((cc, *CFLAGS, *LIBS)).encode())
    out_dir = cache_dir() / digest.hexdigest()[:16]
    target = out_dir / LIBRARY_NAME
    if target.is_file():
        return target
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        for name, text in texts.items():
            Path(tmp, name).write_bytes(text)
        partial = Path(tmp, LIBRARY_NAME)
        c_files = [str(Path(tmp, name)) for name in SOURCES if name.endswith(".c")]
        cmd = [cc, *CFLAGS, "-o", str(partial), *c_files, *LIBS]
        log.info("building the clock shim: %s", " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ShimBuildError(f"compiling the clock shim failed ({' '.join(cmd)}):\n{proc.stderr[-2000:]}")
        os.replace(partial, target)
    return target


def main() -> int:
    """``python -m pixelpad.sim.build``: build the shim now and print where it is."""
    try:
        print(shim_path())
    except ShimBuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
