"""AdaBN: re-estimate a model's BatchNorm statistics on the unlabelled images it is about to predict.

Li et al. 2016 ("Revisiting Batch Normalization For Practical Domain
Adaptation"): a network trained on one domain (slides of some labs) sees
another (other labs' slides) with shifted feature statistics; replacing each
BatchNorm layer's moving mean and variance by those of the new images adapts it
with no labels and no training. Only the moving statistics change: every
weight, and each BatchNorm's scale and offset, stay as trained.

As commonly done (PyTorch's cumulative average with ``momentum=None``): one
pass over the images in training mode, every BatchNorm layer normalising with
its batch's statistics; each layer's new statistics are the batch-size-weighted
means of its per-batch means and variances.

>>> adapt_batchnorm(model, test_dataset)   # a dataset of image batches; returns the number of layers adapted
12
"""

from __future__ import annotations

from typing import Iterable

import numpy as np


def batchnorm_layers(model) -> list:
    """Every ``keras.layers.BatchNormalization`` in ``model``, nested models included, in layer order."""
    import keras

    def walk(layer):
        for inner in getattr(layer, "layers", []):
            yield inner
            yield from walk(inner)

    return [layer for layer in walk(model) if isinstance(layer, keras.layers.BatchNormalization)]


def adapt_batchnorm(model, batches: Iterable) -> int:
    """Set each BatchNorm layer's moving mean and variance to those of ``batches`` (image tensors);
    return how many layers were adapted (0: the model has none, and nothing changes)."""
    import tensorflow as tf

    layers = batchnorm_layers(model)
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0  # after a training-mode call, the moving statistics ARE that batch's

    @tf.function(reduce_retracing=True)
    def forward(images):
        model(images, training=True)

    sums = [[np.zeros(layer.moving_mean.shape), np.zeros(layer.moving_variance.shape)] for layer in layers]
    seen = 0
    try:
        for images in batches:
            count = int(images.shape[0])
            forward(images)
            for total, layer in zip(sums, layers):
                total[0] += count * np.asarray(layer.moving_mean.numpy(), np.float64)
                total[1] += count * np.asarray(layer.moving_variance.numpy(), np.float64)
            seen += count
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    if seen == 0:
        raise ValueError("adapt_batchnorm needs at least one batch of images")
    for (mean, variance), layer in zip(sums, layers):
        layer.moving_mean.assign((mean / seen).astype(np.float32))  # BatchNorm keeps its statistics in float32
        layer.moving_variance.assign((variance / seen).astype(np.float32))
    return len(layers)
