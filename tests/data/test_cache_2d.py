"""The verified cache with 2-D datasets: round trip, manifest, corrupt entries rebuilt."""

import json
import logging

import numpy as np

from lnet.data import load_or_build, make_spec
from tests.data.test_spec_2d import TINY_2D


def test_round_trip_and_manifest(data_dir):
    spec = make_spec("counting", **TINY_2D)
    first = load_or_build(spec, data_dir, show_progress=False)
    assert not first.hit and first.path.name == spec.name
    assert first.path.name.startswith("counting-uniform-6x6-")
    second = load_or_build(spec, data_dir, show_progress=False)
    assert second.hit
    for split in ("train", "val", "test"):
        assert first.arrays[split].keys() == second.arrays[split].keys()
        for k, a in first.arrays[split].items():
            np.testing.assert_array_equal(a, second.arrays[split][k])
    manifest = json.loads((first.path / "manifest.json").read_text())
    assert manifest["key"] == spec.key
    assert manifest["spec"]["dim"] == 2 and manifest["spec"]["shape"] == [6, 6]
    assert manifest["shapes"]["train"]["V"] == [6, 6, 6] and manifest["shapes"]["train"]["E"] == [
        6,
        8,
    ]
    assert set(manifest["sha256"]["test"]) == {"V", "W", "E", "N", "component"}
    # another shape is another entry
    other = load_or_build(
        make_spec("counting", **{**TINY_2D, "shape": [6, 7]}), data_dir, show_progress=False
    )
    assert not other.hit and other.path != first.path
    assert other.arrays["train"]["V"].shape == (6, 6, 7)


def test_corrupt_2d_entry_is_rebuilt(data_dir, caplog):
    spec = make_spec("counting", **TINY_2D)
    good = load_or_build(spec, data_dir, show_progress=False)
    arrays = dict(np.load(good.path / "val.npz"))
    arrays["W"] = arrays["W"][:, ::-1]  # a valid npz with wrong content
    np.savez_compressed(good.path / "val.npz", **arrays)
    with caplog.at_level(logging.WARNING, logger="lnet.data.cache"):
        again = load_or_build(spec, data_dir, show_progress=False)
    assert not again.hit
    assert any("checksum mismatch for val/W" in r.getMessage() for r in caplog.records)
    np.testing.assert_array_equal(again.arrays["val"]["W"], good.arrays["val"]["W"])
