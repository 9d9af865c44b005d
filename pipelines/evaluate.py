"""Score logged counting models, and the landscape laws, on the same generalisation sets.

    python pipelines/evaluate.py 'models=[runs:/<id>/model,runs:/<id2>/model]' \
        data/potential=universal 'eval.families=[uniform,laplace,{family: uniform, amplitude: 20}]'
    python pipelines/evaluate.py 'models=[runs:/<id>/model]' data=counting_2d \
        'eval.shapes=[[64,64],[128,128]]' 'eval.laws=[box,weyl_lattice]'

The sets, the runs, the report and its figure: :mod:`lnet.evaluation.scoring`.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

import lnet.config  # noqa: F401  (registers the ${lnet_root:} resolver and the config schemas)
from lnet.evaluation import scoring


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    scoring.main(cfg)


if __name__ == "__main__":
    main()
