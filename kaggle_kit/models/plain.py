"""``plain-cnn``: a plain VGG-style CNN at full resolution, the fair competitor of ``kit-resnet``.

Issue 13 found such a network (8 convolutions, flips, Adam) ahead of the default on unseen
slides; registered so the selection protocol can measure it like any other recipe.
"""

from __future__ import annotations

from kaggle_kit.models._layers import POOLINGS, check_choice, check_range, global_pool, logit_head, pixel_input
from kaggle_kit.models._registry import register_model

NAME = "plain-cnn"


@register_model(name=NAME)
def plain_cnn(
    input_shape,
    *,
    width: int = 32,
    blocks: int = 4,
    convs: int = 2,
    pooling: str = "avgmax",
    dropout: float = 0.3,
    bn_momentum: float = 0.9,
):
    """Plain CNN: blocks of (Conv3×3-BN-ReLU)×2 + max-pool from full resolution, widths 32→256, pooled logit."""
    import keras
    from keras import layers

    check_range(NAME, "width", width, 4, 1025)
    check_range(NAME, "blocks", blocks, 1, 7)
    check_range(NAME, "convs", convs, 1, 5)
    check_choice(NAME, "pooling", pooling, POOLINGS)
    check_range(NAME, "dropout", dropout, 0.0, 1.0)
    check_range(NAME, "bn_momentum", bn_momentum, 0.0, 1.0)

    inputs = pixel_input(input_shape)
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for block in range(blocks):
        for conv in range(convs):
            tag = f"block{block + 1}_conv{conv + 1}"
            x = layers.Conv2D(width * 2**block, 3, padding="same", use_bias=False, name=tag)(x)
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"{tag}_bn")(x)
            x = layers.ReLU(name=f"{tag}_relu")(x)
        x = layers.MaxPooling2D(2, name=f"block{block + 1}_pool")(x)
    return keras.Model(inputs, logit_head(global_pool(x, pooling), dropout), name="plain_cnn")
