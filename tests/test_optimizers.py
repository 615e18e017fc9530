"""The optimisers and learning-rate schedules: float32 traps, a first step worked by hand, each schedule."""

import numpy as np
import pytest

from model.training.optimizers import Adam, MomentumSGD, learning_rate_at, make_optimizer


def is_subnormal(array):
    return bool(np.any((array != 0) & (np.abs(array) < np.finfo(array.dtype).tiny)))


def test_adam_moments_never_go_subnormal():
    # One step with gradients of every magnitude, then many with none: without
    # the guard both moments decay into (and stick at) subnormal values.
    gradient = np.logspace(-3, -30, 200).astype(np.float32)
    gradient[::2] *= -1
    parameters = [np.zeros(200, dtype=np.float32)]
    adam = Adam(parameters)
    adam.step(parameters, [gradient.copy()], 1e-3)
    for _ in range(2000):
        adam.step(parameters, [np.zeros(200, dtype=np.float32)], 1e-3)
        assert not is_subnormal(adam.first_moments[0])
        assert not is_subnormal(adam.second_moments[0])
    assert np.isfinite(parameters[0]).all()

    # The trap is real: the same arithmetic without the guard ends subnormal.
    v = (np.float32(1 - 0.999) * gradient * gradient).astype(np.float32)
    for _ in range(2000):
        v *= np.float32(0.999)
    assert is_subnormal(v)


def test_momentum_velocity_never_goes_subnormal():
    parameters = [np.zeros(100, dtype=np.float32)]
    sgd = MomentumSGD(parameters, momentum=0.9)
    sgd.step(parameters, [np.logspace(-3, -30, 100).astype(np.float32)], 0.1)
    for _ in range(1000):
        sgd.step(parameters, [np.zeros(100, dtype=np.float32)], 0.1)
        assert not is_subnormal(sgd.velocities[0])


def test_adam_first_step_moves_each_parameter_by_the_learning_rate():
    parameters = [np.zeros(3, dtype=np.float32)]
    Adam(parameters).step(parameters, [np.array([0.5, -2.0, 1e-3], dtype=np.float32)], 0.01)
    np.testing.assert_allclose(parameters[0], [-0.01, 0.01, -0.01], rtol=1e-4)


@pytest.mark.parametrize(
    ("schedule", "progress", "factor"),
    [
        ("cosine", 0.0, 1.0),
        ("cosine", 0.5, 0.5),
        ("cosine", 1.0, 0.0),
        ("step", 0.49, 1.0),
        ("step", 0.5, 0.1),
        ("step", 0.8, 0.01),
        ("constant", 0.9, 1.0),
    ],
)
def test_learning_rate_schedules(schedule, progress, factor):
    assert learning_rate_at(schedule, 0.2, progress) == pytest.approx(0.2 * factor, abs=1e-12)


def test_an_unknown_optimizer_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop': choose from adam, momentum"):
        make_optimizer("rmsprop", [np.zeros(3, dtype=np.float32)])


def test_an_unknown_schedule_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'linear': choose from cosine, step, constant"):
        learning_rate_at("linear", 0.1, 0.5)
