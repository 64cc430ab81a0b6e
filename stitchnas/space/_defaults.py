"""The built-in default space, named apart so reading it imports nothing heavy."""

__all__ = ["DEFAULT_SPACE"]

#: The space ``stitchnas run`` and every verb use when none is named.
DEFAULT_SPACE = "fmnist_resnet_grown"
