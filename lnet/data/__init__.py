"""Datasets of random potentials, landscapes and exact targets, cached on disk."""

from lnet.data.cache import CacheEntry, load_or_build
from lnet.data.datamodules import CachedDataModule, CountingDataModule, EigenvalueDataModule
from lnet.errors import ConfigError
from lnet.data.families import FAMILIES, FAMILY_NAMES, PotentialLaw, make_law
from lnet.data.spec import DatasetSpec, make_spec

__all__ = [
    "FAMILIES",
    "FAMILY_NAMES",
    "CacheEntry",
    "CachedDataModule",
    "ConfigError",
    "CountingDataModule",
    "DatasetSpec",
    "EigenvalueDataModule",
    "PotentialLaw",
    "load_or_build",
    "make_law",
    "make_spec",
]
