import json
import logging
import multiprocessing as mp

import numpy as np
import pytest

from lnet.data import load_or_build, make_spec
from lnet.data.cache import entry_path
from tests.conftest import TINY_COUNTING


@pytest.fixture
def spec():
    return make_spec("counting", **TINY_COUNTING)


def assert_same(a, b):
    assert a.keys() == b.keys()
    for split in a:
        assert a[split].keys() == b[split].keys()
        for k in a[split]:
            np.testing.assert_array_equal(a[split][k], b[split][k])


def test_build_then_verified_hit(spec, data_dir):
    first = load_or_build(spec, data_dir, show_progress=False)
    assert not first.hit
    second = load_or_build(spec, data_dir, show_progress=False)
    assert second.hit
    assert_same(first.arrays, second.arrays)
    manifest = json.loads((first.path / "manifest.json").read_text())
    assert manifest["key"] == spec.key and manifest["seed"] == 7
    assert manifest["shapes"]["train"]["V"] == [12, 64]
    assert set(manifest["versions"]) >= {"numpy", "scipy", "lnet", "python"}
    assert set(manifest["sha256"]["test"]) == {"V", "W", "E", "N", "component"}
    assert manifest["spec"]["potential"] == {"family": "uniform", "amplitude": 1.0}


def _corrupt_npz(path):
    raw = bytearray(path.read_bytes())
    mid = len(raw) // 2
    raw[mid : mid + 16] = bytes(16)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    "damage,reason",
    [
        (lambda p: _corrupt_npz(p / "train.npz"), "train.npz"),
        (lambda p: (p / "val.npz").write_bytes(b"oops"), "val.npz is unreadable"),
        (lambda p: (p / "manifest.json").unlink(), "manifest.json is missing"),
        (lambda p: (p / "manifest.json").write_text("{"), "manifest.json is unreadable"),
    ],
)
def test_corrupt_entry_is_reported_once_and_rebuilt(spec, data_dir, caplog, damage, reason):
    good = load_or_build(spec, data_dir, show_progress=False)
    damage(good.path)
    with caplog.at_level(logging.WARNING, logger="lnet.data.cache"):
        again = load_or_build(spec, data_dir, show_progress=False)
    assert not again.hit
    records = [r for r in caplog.records if "corrupt" in r.getMessage()]
    assert len(records) == 1 and reason in records[0].getMessage()
    assert_same(good.arrays, again.arrays)
    assert load_or_build(spec, data_dir, show_progress=False).hit


def test_checksum_catches_a_silently_changed_array(spec, data_dir):
    good = load_or_build(spec, data_dir, show_progress=False)
    arrays = dict(np.load(good.path / "test.npz"))
    arrays["N"] = arrays["N"] + 1  # a valid npz with wrong content
    np.savez_compressed(good.path / "test.npz", **arrays)
    again = load_or_build(spec, data_dir, show_progress=False)
    assert not again.hit
    assert_same(good.arrays, again.arrays)


def test_leftover_partial_build_is_ignored(spec, data_dir):
    path = entry_path(spec, data_dir)
    partial = path.parent / f".tmp-{path.name}-deadbeef"
    partial.mkdir(parents=True)
    (partial / "train.npz").write_bytes(b"half")
    entry = load_or_build(spec, data_dir, show_progress=False)
    assert not entry.hit and not partial.exists()


def _worker(args):
    spec_kwargs, data_dir = args
    spec = make_spec("counting", **spec_kwargs)
    entry = load_or_build(spec, data_dir, show_progress=False)
    return entry.hit, entry.arrays["train"]["N"].sum()


@pytest.mark.e2e  # a pool of processes
def test_concurrent_processes_build_once(data_dir):
    kwargs = {**TINY_COUNTING, "n": 300, "sizes": {"train": 150, "val": 20, "test": 20}}
    ctx = mp.get_context("spawn")
    with ctx.Pool(3) as pool:
        results = pool.map(_worker, [(kwargs, str(data_dir))] * 3)
    hits = [hit for hit, _ in results]
    assert hits.count(False) == 1, hits
    assert len({total for _, total in results}) == 1
