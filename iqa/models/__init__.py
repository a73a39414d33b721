"""Models: the torch-free registry (names, sizes, input sizes) here; `builder` makes the networks."""
from iqa.models.registry import FAMILIES, RESNET_SIZES, SWIN_SIZES, check_model_config, input_size

__all__ = ["FAMILIES", "RESNET_SIZES", "SWIN_SIZES", "check_model_config", "input_size"]
