"""Build, register and list the pretrained models shipped with lnet (see lnet.pretrained.cli).

python pipelines/pretrained.py build universal-1d RUN_ID [RUN_ID ...]   # from training runs
python pipelines/pretrained.py register universal-1d                     # lnet-universal-1d@champion
python pipelines/pretrained.py list
"""

from __future__ import annotations

import sys

from lnet.pretrained.cli import main

if __name__ == "__main__":
    sys.exit(main())
