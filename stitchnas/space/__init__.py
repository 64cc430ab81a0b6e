"""The search space: routes through the anchors, the rules that enumerate them, space files."""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "Candidate": "_routes",
    "DEFAULT_SPACE": "_defaults",
    "Junction": "_routes",
    "LayerShape": "_space",
    "Route": "_routes",
    "RULES": "_rules",
    "SNNetStagesRule": "_rules",
    "SNNetV1Rule": "_rules",
    "SNNetV2Rule": "_rules",
    "SearchSpace": "_space",
    "Segment": "_routes",
    "Stage": "_rules",
    "StitchRule": "_rules",
    "TwoWayRule": "_rules",
    "boundary_stages": "_rules",
    "bundled_spaces_dir": "_space",
    "check_acc1": "_space",
    "check_section": "_schema",
    "SECTIONS": "_schema",
    "get_rule": "_rules",
    "list_rules": "_rules",
    "list_spaces": "_space",
    "load_space": "_space",
    "register_rule": "_rules",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
