"""On-disk dataset cache: atomic writes, verified loads, one builder per key.

Layout under ``data_dir``::

    <task>-<family>-n<n>-<key[:12]>/
        manifest.json        spec, seed, key, library versions, shapes, sha256, build time
        train.npz val.npz test.npz   (compressed; each potential's arrays stored once)
    <name>.lock              file lock held while building

An entry is written into a temporary folder and renamed into place, so a reader
sees either a complete entry or none.  A load verifies the format version, the
key and the sha256 of every array; a corrupt or partial entry is reported in one
line and rebuilt.  Concurrent processes asking for the same key serialise on the
lock: one builds, the others wait and then load its entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import time
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from lnet.data.build import build_split
from lnet.data.spec import FORMAT_VERSION, SPLITS, DatasetSpec

log = logging.getLogger(__name__)
Arrays = dict[str, dict[str, np.ndarray]]


class MissingEntry(Exception):
    pass


class CorruptEntry(Exception):
    pass


@dataclass
class CacheEntry:
    """A loaded dataset: ``arrays[split][name]``, its manifest, and how it was obtained."""

    spec: DatasetSpec
    path: Path
    arrays: Arrays
    manifest: dict[str, Any]
    hit: bool
    seconds: float
    sizes_bytes: dict[str, int] = field(default_factory=dict)


def array_sha256(a: np.ndarray) -> str:
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).view(np.uint8).ravel().data)
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    import numba
    import scipy

    import lnet

    return {
        "lnet": lnet.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
    }


def entry_path(spec: DatasetSpec, data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / spec.name


def _load(path: Path, spec: DatasetSpec) -> tuple[Arrays, dict[str, Any]]:
    manifest_file = path / "manifest.json"
    if not path.exists():
        raise MissingEntry
    if not manifest_file.exists():
        raise CorruptEntry("manifest.json is missing")
    try:
        manifest = json.loads(manifest_file.read_text())
    except (OSError, ValueError) as exc:
        raise CorruptEntry(f"manifest.json is unreadable: {exc}") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CorruptEntry(f"format version {manifest.get('format_version')} != {FORMAT_VERSION}")
    if manifest.get("key") != spec.key:
        raise CorruptEntry("manifest key does not match the requested spec")
    arrays: Arrays = {}
    for split in SPLITS:
        expected = manifest["sha256"].get(split, {})
        try:
            with np.load(path / f"{split}.npz", allow_pickle=False) as z:
                arrays[split] = {name: z[name] for name in z.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
            raise CorruptEntry(f"{split}.npz is unreadable: {exc}") from None
        if set(arrays[split]) != set(expected):
            raise CorruptEntry(f"{split}.npz holds {sorted(arrays[split])}, expected {sorted(expected)}")
        for name, a in arrays[split].items():
            if array_sha256(a) != expected[name]:
                raise CorruptEntry(f"checksum mismatch for {split}/{name}")
    return arrays, manifest


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, spec: DatasetSpec, arrays: Arrays, seconds: float) -> dict[str, Any]:
    tmp = path.parent / f".tmp-{path.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        for split, named in arrays.items():
            with open(tmp / f"{split}.npz", "wb") as fh:
                np.savez_compressed(fh, **named)
                fh.flush()
                os.fsync(fh.fileno())
        manifest = {
            "format_version": FORMAT_VERSION,
            "key": spec.key,
            "name": spec.name,
            "spec": spec.to_dict(),
            "seed": spec.seed,
            "components": list(spec.law.component_names),
            "versions": library_versions(),
            "shapes": {s: {k: list(a.shape) for k, a in d.items()} for s, d in arrays.items()},
            "sha256": {s: {k: array_sha256(a) for k, a in d.items()} for s, d in arrays.items()},
            "build_seconds": round(seconds, 3),
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        with open(tmp / "manifest.json", "w") as fh:
            json.dump(manifest, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(tmp)
        os.rename(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _discard(path: Path) -> None:
    """Remove a corrupt entry and leftovers of builders that died (we hold the lock)."""
    if path.exists():
        trash = path.parent / f".trash-{path.name}-{uuid.uuid4().hex[:8]}"
        os.rename(path, trash)
        shutil.rmtree(trash, ignore_errors=True)
    for stale in path.parent.glob(f".tmp-{path.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _build(spec: DatasetSpec, show_progress: bool) -> Arrays:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    total = sum(spec.sizes.values())
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not show_progress,
        transient=False,
    ) as bar:
        task = bar.add_task(f"building {spec.name}", total=total)
        return {
            split: build_split(spec, split, lambda k: bar.advance(task, k)) for split in SPLITS
        }


def load_or_build(
    spec: DatasetSpec, data_dir: str | os.PathLike, *, show_progress: bool = True
) -> CacheEntry:
    """Return the dataset for ``spec``, loading a verified cache entry or building it once."""
    path = entry_path(spec, data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    reported = False
    try:
        arrays, manifest = _load(path, spec)
        return _entry(spec, path, arrays, manifest, True, time.perf_counter() - t0)
    except MissingEntry:
        pass
    except CorruptEntry as exc:
        log.warning("lnet: cache entry %s is corrupt (%s); rebuilding it", path, exc)
        reported = True
    with FileLock(str(path) + ".lock"):
        try:  # another process may have built it while we waited
            arrays, manifest = _load(path, spec)
            return _entry(spec, path, arrays, manifest, True, time.perf_counter() - t0)
        except MissingEntry:
            pass
        except CorruptEntry as exc:
            if not reported:
                log.warning("lnet: cache entry %s is corrupt (%s); rebuilding it", path, exc)
        _discard(path)
        t_build = time.perf_counter()
        arrays = _build(spec, show_progress)
        manifest = _write_atomic(path, spec, arrays, time.perf_counter() - t_build)
    return _entry(spec, path, arrays, manifest, False, time.perf_counter() - t0)


def _entry(
    spec: DatasetSpec, path: Path, arrays: Arrays, manifest: dict[str, Any], hit: bool, s: float
) -> CacheEntry:
    sizes = {f.name: f.stat().st_size for f in sorted(path.iterdir())}
    return CacheEntry(spec, path, arrays, manifest, hit, s, sizes)
