"""Models: plain ``nn.Module`` networks and laws, and the LightningModules that train them."""

from lnet.models.eigen_net import EigenNet, EigenNet2D
from lnet.models.landscape_net import LandscapeNet
from lnet.models.laws import (
    BoxCountingLaw,
    BoxCountingLaw2D,
    KpmLaw,
    WeylLaw,
    WeylLaw2D,
    WeylShiftedLaw,
)
from lnet.models.modules import CountingModule, EigenModule
from lnet.models.paper_landscape_net import PaperLandscapeNet
from lnet.models.protocol import LnetModel
from lnet.models.universal_landscape_net import UniversalLandscapeNet
from lnet.models.universal_landscape_net_2d import UniversalLandscapeNet2D
from lnet.models.well_net import WellNet, WellNet2D

__all__ = [
    "BoxCountingLaw",
    "BoxCountingLaw2D",
    "CountingModule",
    "EigenModule",
    "EigenNet",
    "EigenNet2D",
    "KpmLaw",
    "LandscapeNet",
    "LnetModel",
    "PaperLandscapeNet",
    "UniversalLandscapeNet",
    "UniversalLandscapeNet2D",
    "WellNet",
    "WellNet2D",
    "WeylLaw",
    "WeylLaw2D",
    "WeylShiftedLaw",
]
