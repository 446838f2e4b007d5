"""A keras layer for the NaN test (imported only inside fixtures: it imports keras)."""

import keras


@keras.saving.register_keras_serializable(package="kaggle_kit_tests")
class NanAfterSteps(keras.layers.Layer):
    """Identity until ``steps`` training calls have passed, NaN after: a loss that blows up on cue."""

    def __init__(self, steps, **kwargs):
        super().__init__(**kwargs)
        self.steps = steps

    def build(self, input_shape):
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False, name="calls")

    def call(self, x, training=False):
        if training:
            self.calls.assign_add(1.0)
        # Add the NaN rather than select it: tf.where would leak NaN gradients from the unused branch.
        return x + keras.ops.where(self.calls > self.steps, float("nan"), 0.0)

    def get_config(self):
        return {**super().get_config(), "steps": self.steps}
