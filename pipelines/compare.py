"""Compare finished runs side by side, as Markdown, CSV and a plot (see lnet.comparison).

python pipelines/compare.py                         # every finished run in experiment 'lnet'
python pipelines/compare.py paper_landscape_net     # runs tagged experiment=<name> or sweep_id=<name>
python pipelines/compare.py <parent run id>         # the child runs of a sweep's parent run
python pipelines/compare.py SWEEP --by data.sizes.train --metrics test_mse,val_mse
python pipelines/compare.py SWEEP --promote         # registry alias 'champion' by val_mse
"""

from __future__ import annotations

import sys

from lnet.comparison import main

if __name__ == "__main__":
    sys.exit(main())
