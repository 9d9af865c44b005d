"""``UniversalLandscapeNet2D``: the name under which 2-D universal nets were logged.

The net is :class:`lnet.models.universal_landscape_net.UniversalLandscapeNet` with
``dim=2``; this thin alias keeps every model logged under this name loadable (its saved
constructor arguments carry no ``dim``) and names ``conf/model/universal_landscape_net_2d.yaml``.
"""

from __future__ import annotations

from typing import Any

from lnet.models.universal_landscape_net import UniversalLandscapeNet


class UniversalLandscapeNet2D(UniversalLandscapeNet):
    """``UniversalLandscapeNet(dim=2, **kwargs)`` (see that class)."""

    dim = 2

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs, dim=2)

    @classmethod
    def config_name(cls) -> str:
        return "universal_landscape_net_2d"  # conf/model/universal_landscape_net_2d.yaml
