"""Models: plain ``nn.Module`` networks and laws, and the LightningModules that train them."""

from lnet.models.eigen_net import EigenNet
from lnet.models.factorized_landscape_net import FactorizedLandscapeNet
from lnet.models.landscape_net import LandscapeNet
from lnet.models.laws import BoxCountingLaw, WeylLaw
from lnet.models.modules import CountingModule, EigenModule
from lnet.models.well_net import WellNet

NETS = {
    cls.__name__: cls
    for cls in (LandscapeNet, FactorizedLandscapeNet, EigenNet, WellNet, BoxCountingLaw, WeylLaw)
}

__all__ = [
    "NETS",
    "BoxCountingLaw",
    "CountingModule",
    "EigenModule",
    "EigenNet",
    "FactorizedLandscapeNet",
    "LandscapeNet",
    "WellNet",
    "WeylLaw",
]
