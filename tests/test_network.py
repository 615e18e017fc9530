"""The network: a forward value worked by hand, gradients, learning, the model file."""

import json
import math
import re
import zipfile

import numpy as np
import pytest

from model import layers
from model.constants import N_CLASSES, N_PIXELS
from model.network import ModelFileError, Network, cross_entropy, softmax

FINITE_DIFFERENCE_STEP = 1e-6
GRADIENT_TOLERANCE = 1e-7


def as_float64(network):
    """Return a float64 copy of `network`, for precise finite differences."""
    return Network(
        [W.astype(np.float64) for W in network.weights],
        [b.astype(np.float64) for b in network.biases],
    )


def central_differences(loss, flat, entries):
    """Return the central-difference derivative of loss() with respect to each entry of `flat`, a parameter's view."""
    numeric = []
    for entry in entries:
        saved = flat[entry]
        flat[entry] = saved + FINITE_DIFFERENCE_STEP
        plus = loss()
        flat[entry] = saved - FINITE_DIFFERENCE_STEP
        minus = loss()
        flat[entry] = saved
        numeric.append((plus - minus) / (2 * FINITE_DIFFERENCE_STEP))
    return np.array(numeric)


def tiny_network():
    """A 2-2-3 network whose forward pass is easy to work by hand."""
    weights = [
        np.array([[0.5, math.log(3)], [0.5, 0.0]]),
        np.array([[2.0, 0.0, 0.0], [0.0, 4.0, 0.0]]),
    ]
    biases = [np.zeros(2), np.array([0.0, 0.0, 3.0])]
    return Network([W.astype(np.float32) for W in weights], [b.astype(np.float32) for b in biases])


def test_forward_value_worked_by_hand():
    # x = (1, -1): hidden pre-activations (0.5 - 0.5, ln 3) = (0, ln 3), so the
    # hidden units are expit(0) = 1/2 and expit(ln 3) = 3/4; output
    # pre-activations are (2 * 1/2, 4 * 3/4, 3) = (1, 3, 3).
    network = tiny_network()
    activations = network.forward(np.array([[1.0, -1.0]], dtype=np.float32))
    np.testing.assert_allclose(activations[1], [[0.5, 0.75]], rtol=1e-6)
    e2 = math.exp(2)
    expected = np.array([[1, e2, e2]]) / (1 + 2 * e2)
    np.testing.assert_allclose(activations[2], expected, rtol=1e-6)
    np.testing.assert_allclose(network.predict_proba(np.array([[1.0, -1.0]])), expected, rtol=1e-6)
    assert network.predict_proba(np.zeros((1, 2))).dtype == np.float32


def test_softmax_is_stable_and_cross_entropy_finite():
    P = softmax(np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32))
    np.testing.assert_allclose(P, [[1.0, 0.0, 0.0]], atol=1e-7)
    assert math.isfinite(cross_entropy(P, np.array([2])))


@pytest.mark.parametrize(
    "layer_sizes", [(N_PIXELS, 16, N_CLASSES), (9, 7, 5, N_CLASSES)], ids=["784-16-10", "9-7-5-10"]
)
def test_gradients_match_finite_differences(layer_sizes):
    rng = np.random.default_rng(1)
    network32 = Network.initialise(layer_sizes, rng)
    for b in network32.biases:
        b[:] = rng.normal(0, 0.5, size=b.shape)
    network = as_float64(network32)
    X = rng.random((6, layer_sizes[0]))
    y = rng.integers(0, N_CLASSES, size=6)
    weight_gradients, bias_gradients = network.backward(network.forward(X), y)

    def loss():
        return cross_entropy(network.forward(X)[-1], y)

    for parameters, gradients in ((network.weights, weight_gradients), (network.biases, bias_gradients)):
        for layer, (p, g) in enumerate(zip(parameters, gradients)):
            assert g.shape == p.shape
            flat = p.reshape(-1)
            entries = rng.choice(flat.size, size=min(flat.size, 40), replace=False)
            numeric = central_differences(loss, flat, entries)
            np.testing.assert_allclose(
                g.reshape(-1)[entries], numeric, atol=GRADIENT_TOLERANCE, err_msg=f"layer {layer}"
            )

    # The float32 network computes the same gradients to float32 precision.
    weight_gradients32, bias_gradients32 = network32.backward(network32.forward(X.astype(np.float32)), y)
    for g32, g64 in zip(weight_gradients32 + bias_gradients32, weight_gradients + bias_gradients):
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, g64, atol=1e-5)


def test_tiny_network_overfits_100_samples():
    rng = np.random.default_rng(2)
    X = (rng.random((100, N_PIXELS)) < 0.2).astype(np.float32)
    y = np.arange(100) % N_CLASSES
    network = Network.initialise((N_PIXELS, 32, N_CLASSES), rng)
    learning_rate = np.float32(1.0)
    for _ in range(300):
        weight_gradients, bias_gradients = network.backward(network.forward(X), y)
        for p, g in zip(network.weights + network.biases, weight_gradients + bias_gradients):
            p -= learning_rate * g
    assert (network.predict(X) == y).mean() == 1.0


def test_initialise_is_seeded_and_glorot_bounded():
    first = Network.initialise((N_PIXELS, 20, N_CLASSES), np.random.default_rng(3))
    second = Network.initialise((N_PIXELS, 20, N_CLASSES), np.random.default_rng(3))
    assert first.version == second.version
    assert first.layer_sizes == (N_PIXELS, 20, N_CLASSES)
    assert np.abs(first.weights[0]).max() <= math.sqrt(2 / (N_PIXELS + 20))
    assert all(W.dtype == np.float32 for W in first.weights)


def trained_like_network(seed=4):
    """A 784-12-10 network with metadata, as a model file holds."""
    network = Network.initialise((N_PIXELS, 12, N_CLASSES), np.random.default_rng(seed))
    network.metadata = {"format": "digit-recogniser model", "history": [{"epoch": 1, "val_accuracy": 0.5}]}
    return network


def test_save_load_round_trip(tmp_path):
    network = trained_like_network()
    path = tmp_path / "model.npz"
    network.save(path)
    loaded = Network.load(path)
    assert loaded.layer_sizes == network.layer_sizes
    assert loaded.version == network.version
    assert loaded.metadata == network.metadata
    for a, b in zip(loaded.weights + loaded.biases, network.weights + network.biases):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    X = np.random.default_rng(5).random((3, N_PIXELS), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(X), network.predict_proba(X))
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def write_arrays(path, **changes):
    """Write the arrays of a valid model file, with some replaced (None removes one)."""
    network = trained_like_network()
    arrays = {
        "format_version": np.array(2),
        "kind": np.array("mlp"),
        "layer_sizes": np.array(network.layer_sizes),
        "metadata": np.array(json.dumps(network.metadata)),
        "W0": network.weights[0],
        "b0": network.biases[0],
        "W1": network.weights[1],
        "b1": network.biases[1],
    }
    arrays.update(changes)
    np.savez(path, **{key: value for key, value in arrays.items() if value is not None})
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"W1": np.zeros((12, 9), np.float32)}, "array 'W1' has shape (12, 9), expected (12, 10)"),
        ({"b0": None}, "missing array 'b0'"),
        ({"layer_sizes": np.array([784, 12, 9])}, "must start with 784 inputs and end with 10 outputs"),
        ({"W0": np.full((N_PIXELS, 12), np.nan, np.float32)}, "array 'W0' contains NaN"),
        ({"format_version": np.array(3)}, "unsupported format_version 3"),
        ({"kind": None}, "missing array 'kind'"),
        ({"kind": np.array("cnn")}, "holds a 'cnn' model, not an 'mlp'"),
        ({"metadata": np.array("{not json")}, "metadata is not valid JSON"),
        ({"W0": np.zeros((N_PIXELS, 12), np.int32)}, "expected floating point"),
        ({"metadata": np.array([{"a": 1}], dtype=object)}, "not a readable .npz file"),
    ],
    ids=["wrong-shape", "missing-array", "wrong-sizes", "nan", "format", "no-kind", "other-kind", "bad-json",
         "int-dtype", "pickle"],
)
def test_load_rejects_malformed_files(tmp_path, changes, message):
    path = write_arrays(tmp_path / "bad.npz", **changes)
    with pytest.raises(ModelFileError) as caught:
        Network.load(path)
    assert caught.value.path == path
    assert message in caught.value.problem
    assert str(path) in str(caught.value)


def test_pickled_object_array_is_never_unpickled(tmp_path):
    path = write_arrays(tmp_path / "pickle.npz", W0=np.array([object()], dtype=object))
    with zipfile.ZipFile(path) as archive:
        assert "W0.npy" in archive.namelist()
    with pytest.raises(ModelFileError, match="Object arrays cannot be loaded"):
        Network.load(path)


def test_load_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="file not found") as caught:
        Network.load(tmp_path / "absent.npz")
    assert "absent.npz" in str(caught.value)


@pytest.mark.parametrize("keep", [0, 100, 0.5], ids=["empty", "header-only", "half"])
def test_load_truncated_file(tmp_path, keep):
    path = tmp_path / "model.npz"
    trained_like_network().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(ModelFileError, match="not a readable .npz file"):
        Network.load(path)


def test_is_finite_finds_one_infinite_weight():
    network = trained_like_network()
    assert network.is_finite()
    network.weights[0][0, 0] = np.inf
    assert not network.is_finite()


def test_parameter_count_is_every_weight_and_bias():
    assert tiny_network().parameter_count == 2 * 2 + 2 + 2 * 3 + 3


def test_load_corrupted_file(tmp_path):
    path = tmp_path / "model.npz"
    trained_like_network().save(path)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="not a readable .npz file"):
        Network.load(path)


def test_load_rejects_a_single_npy_array(tmp_path):
    path = tmp_path / "weights.npz"
    with open(path, "wb") as file:
        np.save(file, np.zeros(3))
    with pytest.raises(ModelFileError, match="not a .npz archive"):
        Network.load(path)


# ---- The layer core with a logistic output, and the outputs beyond the digits ----


def test_logistic_output_worked_by_hand():
    # One hidden unit: expit(ln 3) = 3/4; output pre-activation 4 * 3/4 - 2 = 1, so expit(1).
    weights = [np.array([[math.log(3)]]), np.array([[4.0]])]
    biases = [np.zeros(1), np.array([-2.0])]
    activations = layers.forward(np.array([[1.0]]), weights, biases, layers.LOGISTIC)
    np.testing.assert_allclose(activations[1], [[0.75]])
    np.testing.assert_allclose(activations[2], [[1 / (1 + math.exp(-1))]])


def test_logistic_output_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    weights, biases = layers.initialise((5, 4, 1), rng, np.float64)
    X, t = rng.random((7, 5)), rng.integers(0, 2, 7).astype(np.float64)

    def loss():
        s = layers.forward(X, weights, biases, layers.LOGISTIC)[-1][:, 0]
        return float(-(t * np.log(s) + (1 - t) * np.log(1 - s)).mean())

    activations = layers.forward(X, weights, biases, layers.LOGISTIC)
    delta = (activations[-1][:, 0] - t)[:, None] / len(t)
    weight_gradients, bias_gradients = layers.backward(activations, weights, delta)
    for p, g in zip(weights + biases, weight_gradients + bias_gradients):
        flat = p.reshape(-1)
        numeric = central_differences(loss, flat, range(flat.size))
        np.testing.assert_allclose(g.reshape(-1), numeric, atol=GRADIENT_TOLERANCE)


def open_network(threshold=0.5, temperature=1.0):
    """A 784-0 network (no hidden layer) with 10 digit outputs and two more, 'a' and 'not a digit'."""
    weights = [np.zeros((N_PIXELS, N_CLASSES + 2), dtype=np.float32)]
    biases = [np.zeros(N_CLASSES + 2, dtype=np.float32)]
    weights[0][0, 3] = 4.0   # pixel 0 inked: a 3
    weights[0][1, 10] = 8.0  # pixel 1 inked: an 'a'
    return Network(weights, biases, output_labels=("a", "not a digit"),
                   calibration={"temperature": temperature, "digit_threshold": threshold})


def test_is_digit_is_the_digits_share_of_the_probability():
    X = np.zeros((2, N_PIXELS), dtype=np.float32)
    X[0, 0] = 1  # logits: 4 for '3', 0 elsewhere: the digits' share is (e^4 + 9) / (e^4 + 11)
    X[1, 1] = 1  # logits: 8 for 'a': the digits' share is 10 / (e^8 + 11)
    prediction = open_network(threshold=0.5).recognise(X)
    assert prediction.is_digit.tolist() == [True, False]
    assert prediction.probabilities.shape == (2, N_CLASSES)
    np.testing.assert_allclose(prediction.probabilities.sum(axis=1), 1, rtol=1e-6)
    e4 = math.exp(4)
    assert prediction.probabilities[0, 3] == pytest.approx(e4 / (e4 + 9), rel=1e-6)
    share = (e4 + 9) / (e4 + 11)
    assert open_network(threshold=share + 1e-3).recognise(X[:1]).is_digit.tolist() == [False]


def test_the_digit_share_is_served_beside_is_digit():
    X = np.zeros((2, N_PIXELS), dtype=np.float32)
    X[0, 0] = 1
    X[1, 1] = 1
    e4, e8 = math.exp(4), math.exp(8)
    prediction = open_network(threshold=0.5).recognise(X)
    assert prediction.digit_share.dtype == np.float32
    np.testing.assert_allclose(prediction.digit_share, [(e4 + 9) / (e4 + 11), 10 / (e8 + 11)], rtol=1e-5)


def test_temperature_softens_the_probabilities_but_keeps_the_answer():
    X = np.zeros((1, N_PIXELS), dtype=np.float32)
    X[0, 0] = 1
    sharp = open_network(temperature=1.0).predict_proba(X)
    soft = open_network(temperature=2.0).predict_proba(X)
    e2 = math.exp(2)
    assert soft[0, 3] == pytest.approx(e2 / (e2 + 9), rel=1e-6)
    assert soft[0, 3] < sharp[0, 3] and soft.argmax() == sharp.argmax() == 3


def test_outputs_and_calibration_survive_the_model_file(tmp_path):
    network = open_network(threshold=0.3, temperature=1.7).with_calibration(confidence_threshold=0.95)
    network.save(tmp_path / "open.npz")
    loaded = Network.load(tmp_path / "open.npz")
    assert loaded.output_labels == ("a", "not a digit")
    assert loaded.calibration == {"temperature": pytest.approx(1.7), "digit_threshold": pytest.approx(0.3),
                                  "confidence_threshold": pytest.approx(0.95)}
    assert loaded.version == network.version
    assert loaded.version != open_network(threshold=0.4, temperature=1.7).version
    assert loaded.describe()["output_labels"] == ["a", "not a digit"]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("temperature", np.array(-1.0), "temperature must be a positive number"),
        ("digit_threshold", np.array(1.5), "digit_threshold must lie in [0, 1]"),
        ("output_labels", np.array(["a"]), "must start with 784 inputs and end with 10 outputs and 1 more"),
    ],
)
def test_malformed_calibration_is_refused(tmp_path, key, value, message):
    arrays = open_network().to_arrays()
    arrays[key] = value
    with pytest.raises(ModelFileError, match=re.escape(message)):
        Network.from_arrays(tmp_path / "m.npz", arrays, {})


def test_a_ten_output_network_without_calibration_calls_everything_a_digit():
    network = tiny_network_of_ten()
    prediction = network.recognise(np.zeros((3, N_PIXELS), dtype=np.float32))
    assert prediction.is_digit.all() and network.calibration["temperature"] == 1.0
    np.testing.assert_allclose(prediction.digit_share, 1, rtol=1e-6)


def tiny_network_of_ten():
    return Network.initialise((N_PIXELS, 4, N_CLASSES), np.random.default_rng(0))
