"""Build (or find) a cached dataset and print a summary.

    python pipelines/generate.py                       # default counting data (paper setting)
    python pipelines/generate.py data=eigenvalues      # V-vs-W eigenvalue data
    python pipelines/generate.py data/potential=speckle data.sizes.train=3000
    python pipelines/generate.py data=counting_2d      # 2-D counting data, 32×32 lattice

Training uses the same code path (the DataModule's ``prepare_data``).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig
from rich.table import Table

import lnet.config  # noqa: F401  (registers the ${lnet_root:} resolver)
from lnet.cli import console as cli_console
from lnet.cli import exit_on_config_error
from lnet.data import CachedDataModule


def summary_table(dm: CachedDataModule) -> Table:
    entry = dm.load()
    table = Table(title=f"dataset {entry.spec.name}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("cache", "hit (verified)" if entry.hit else "built")
    table.add_row("key", entry.spec.key)
    table.add_row("path", str(entry.path))
    table.add_row("task / law", f"{entry.spec.task} / {entry.spec.law.to_config()}")
    if entry.spec.dim == 1:
        table.add_row("n / seed", f"{entry.spec.n} / {entry.spec.seed}")
    else:
        sides = "×".join(str(side) for side in entry.spec.shape)
        table.add_row("lattice / seed", f"{sides} (n = {entry.spec.n}) / {entry.spec.seed}")
    for split, arrays in entry.arrays.items():
        shapes = ", ".join(f"{k} {tuple(a.shape)}" for k, a in arrays.items())
        table.add_row(split, shapes)
    table.add_row("on disk", f"{sum(entry.sizes_bytes.values()) / 1e6:.1f} MB")
    table.add_row("time", f"{entry.seconds:.2f} s")
    return table


@hydra.main(version_base="1.3", config_path="../conf", config_name="generate")
@exit_on_config_error
def main(cfg: DictConfig) -> None:
    dm: CachedDataModule = hydra.utils.instantiate(cfg.data)
    cli_console().print(summary_table(dm))


if __name__ == "__main__":
    main()
