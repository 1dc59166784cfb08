"""The view topics the grants want, exported for the projector (`govbus project --views`).

The gateway knows the grants; the projector (in consumers/, which may not import the gateway)
reads the exported field sets. Each view that appears or goes is audited here.
"""

from govbus.gateway.views._export import (
    ViewChange,
    export_views,
    keep_views_file,
    wanted_field_sets,
)

__all__ = ["ViewChange", "export_views", "keep_views_file", "wanted_field_sets"]
