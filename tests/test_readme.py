"""The README's Python example runs as written: its shapes, imports and calls are the
library's (the model ``make train`` registers stands in as an untrained LandscapeNet of
the same lattice, so no training is needed)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import lnet
from lnet.models import LandscapeNet
from lnet.predict import Predictor

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_a_python_example():
    assert BLOCKS


@pytest.mark.parametrize("block", BLOCKS)
def test_the_readme_example_runs(block, monkeypatch, capsys):
    loaded = []

    def load_model(uri, *args, **kwargs):
        assert uri.startswith("models:/lnet-landscape_net"), uri  # what make train registers
        loaded.append(uri)
        return Predictor(LandscapeNet(n=1000))

    monkeypatch.setattr(lnet, "load_model", load_model)
    exec(compile(block, str(README), "exec"), {"__name__": "readme"})
    assert loaded
    printed = capsys.readouterr().out.split()
    assert printed and np.isfinite(float(printed[-1]))
