"""lnet: Landscape Net, machine learning of the eigenvalue counting function of
random Schrödinger operators from the localization landscape."""

__version__ = "0.1.0"
