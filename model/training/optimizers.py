"""Stochastic optimisers and learning-rate schedules for training, in place on float32 arrays.

As in scikit-learn's ``_stochastic_optimizers.py``: each optimiser keeps its
own state for a fixed list of parameter arrays and moves them with
`step(parameters, gradients, learning_rate)`; another optimiser is another
class here and one entry in `make_optimizer`.
"""

import math

import numpy as np

from model.network import DTYPE

OPTIMIZERS = ("adam", "momentum")
LR_SCHEDULES = ("cosine", "step", "constant")

DEFAULT_MOMENTUM = 0.9

ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
ADAM_EPSILON = 1e-8

TINY = np.finfo(DTYPE).tiny
"""The smallest normal float32. Optimiser state below it is flushed: see Adam."""

STEP_DECAY_POINTS = (0.5, 0.75)
"""Fractions of training after which the step schedule divides the rate."""

STEP_DECAY_FACTOR = 0.1
"""What the step schedule multiplies the rate by at each of those points."""


class Adam:
    """Adam (Kingma and Ba, 2015) updating float32 arrays in place.

    Float32 moment estimates have a trap: where the gradient stays zero (an
    input pixel that no training image inks, say), the estimates decay
    geometrically into subnormal numbers and then stick at the smallest one,
    since rounding 0.999 * 2**-149 gives 2**-149 back. Arithmetic on
    subnormals is many times slower on x86, and every later step pays for
    it. So the second moment is floored at the smallest normal number (far
    below epsilon squared, so no update changes) and first moments smaller
    than that are flushed to zero.
    """

    def __init__(self, parameters, beta1=ADAM_BETA1, beta2=ADAM_BETA2, epsilon=ADAM_EPSILON):
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.first_moments = [np.zeros_like(p) for p in parameters]
        self.second_moments = [np.zeros_like(p) for p in parameters]
        self._scratch = [np.empty_like(p) for p in parameters]
        self._small = [np.empty(p.shape, dtype=bool) for p in parameters]
        self.steps = 0

    def step(self, parameters, gradients, learning_rate):
        """Move each parameter against its gradient; the gradients are overwritten."""
        self.steps += 1
        # Bias correction folded into the rate and epsilon, as in Kingma and Ba's section 2.
        correction = math.sqrt(1 - self.beta2**self.steps)
        rate = DTYPE(learning_rate * correction / (1 - self.beta1**self.steps))
        epsilon = DTYPE(self.epsilon * correction)
        for p, g, m, v, scratch, small in zip(
            parameters, gradients, self.first_moments, self.second_moments, self._scratch, self._small
        ):
            m *= DTYPE(self.beta1)
            np.multiply(g, DTYPE(1 - self.beta1), out=scratch)
            m += scratch
            np.abs(m, out=scratch)
            np.less(scratch, TINY, out=small)
            np.copyto(m, 0, where=small)
            g *= g
            g *= DTYPE(1 - self.beta2)
            v *= DTYPE(self.beta2)
            v += g
            np.maximum(v, TINY, out=v)
            np.sqrt(v, out=scratch)
            scratch += epsilon
            np.divide(m, scratch, out=scratch)
            scratch *= rate
            p -= scratch


class MomentumSGD:
    """Stochastic gradient descent with classical momentum, float32, in place.

    The velocity decays like Adam's moments where gradients vanish, so its
    subnormal values are flushed to zero too (see Adam).
    """

    def __init__(self, parameters, momentum=DEFAULT_MOMENTUM):
        self.momentum = momentum
        self.velocities = [np.zeros_like(p) for p in parameters]
        self._small = [np.empty(p.shape, dtype=bool) for p in parameters]

    def step(self, parameters, gradients, learning_rate):
        """Move each parameter along its velocity; the gradients are overwritten."""
        for p, g, velocity, small in zip(parameters, gradients, self.velocities, self._small):
            velocity *= DTYPE(self.momentum)
            g *= DTYPE(learning_rate)
            velocity -= g
            np.abs(velocity, out=g)
            np.less(g, TINY, out=small)
            np.copyto(velocity, 0, where=small)
            p += velocity


def make_optimizer(name, parameters, momentum=DEFAULT_MOMENTUM):
    """Return the optimiser called `name` (one of OPTIMIZERS) for `parameters`."""
    if name == "adam":
        return Adam(parameters)
    if name == "momentum":
        return MomentumSGD(parameters, momentum)
    raise ValueError(f"unknown optimizer {name!r}: choose from {', '.join(OPTIMIZERS)}")


def learning_rate_at(schedule, initial_rate, progress):
    """Return the rate of `schedule` (one of LR_SCHEDULES) after the fraction `progress` in [0, 1] of all steps."""
    if schedule == "cosine":
        return initial_rate * 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "step":
        return initial_rate * STEP_DECAY_FACTOR ** sum(progress >= point for point in STEP_DECAY_POINTS)
    if schedule == "constant":
        return initial_rate
    raise ValueError(f"unknown learning-rate schedule {schedule!r}: choose from {', '.join(LR_SCHEDULES)}")
