"""The model zoo: ``create_model(name, input_shape, **options)``, ``list_models()``, ``model_info(name)``.

Every model takes raw pixels (0–255, float32; ``Rescaling`` is inside) and returns
``(batch, 1)`` float32 logits, so a saved ``.keras`` file predicts from uint8 images.
"""

from kaggle_kit.models import applications, notebook, plain, resnet  # noqa: F401  (importing them registers the built-ins)
from kaggle_kit.models._registry import (
    ModelInfo,
    ModelSummary,
    count_params,
    create_model,
    describe_models,
    list_models,
    model_info,
    option_type,
    register_model,
    render_models,
)

__all__ = [
    "ModelInfo",
    "ModelSummary",
    "count_params",
    "create_model",
    "describe_models",
    "list_models",
    "model_info",
    "option_type",
    "register_model",
    "render_models",
]
