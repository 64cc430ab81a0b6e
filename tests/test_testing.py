"""The conformance kits in stitchnas.testing pass the built-in plug-ins and catch broken ones."""

import pytest
import timm

from stitchnas.anchors import ADAPTERS, ResNetAdapter, ViTAdapter
from stitchnas.space import RULES, Candidate, Route, Segment, TwoWayRule
from stitchnas.testing import check_adapter, check_rule


def _vit():
    return timm.create_model("vit_tiny_patch16_224", img_size=32, patch_size=8, embed_dim=32,
                             depth=3, num_heads=2, num_classes=5)


@pytest.mark.parametrize("cls, make, size", [
    (ViTAdapter, _vit, None),
    (ResNetAdapter, lambda: timm.create_model("resnet18", num_classes=5), (3, 32, 32)),
])
def test_builtin_adapters_conform(cls, make, size):
    check_adapter(cls, make(), size)


def test_an_adapter_that_drops_a_block_is_caught():
    class Short(ViTAdapter):
        def blocks(self):
            return super().blocks()[:-1]

    with pytest.raises(AssertionError, match="does not reproduce the model's output"):
        check_adapter(Short, _vit())


def test_an_adapter_for_another_family_is_caught():
    with pytest.raises(AssertionError, match=r"handles\(VisionTransformer\) is False"):
        check_adapter(ResNetAdapter, _vit())


@pytest.mark.parametrize("name", RULES.names())
def test_builtin_rules_conform(name):
    check_rule(RULES.get(name))


def test_a_rule_with_shuffled_ids_is_caught():
    class Shuffled(TwoWayRule):
        name = "shuffled"

        def enumerate(self, depths):
            slots = super().enumerate(depths)
            return slots[:-2] + [slots[-1], slots[-2]]

    with pytest.raises(AssertionError, match="slot .* holds id"):
        check_rule(Shuffled)


def test_a_rule_that_leaves_its_anchor_is_caught():
    class Outside(TwoWayRule):
        name = "outside"

        def enumerate(self, depths):
            slots = super().enumerate(depths)
            n = len(slots)
            return slots + [Candidate(n, Route((Segment(0, 0, depths[0] + 1),)))]

    with pytest.raises(AssertionError, match="outside its anchor"):
        check_rule(Outside)


def test_every_adapter_is_registered_once():
    names = ADAPTERS.names()
    assert len(names) == len(set(names)) and "ViTAdapter" in names and "ResNetAdapter" in names
