"""model.load and the protocol every kind of model offers the web layer."""

import json

import numpy as np
import pytest

import model
from model import MODEL_KINDS, ModelFileError
from model.constants import DEFAULT_MODEL_PATH, N_CLASSES, N_PIXELS
from model.network import Network


@pytest.fixture()
def small_network():
    return Network.initialise((N_PIXELS, 16, N_CLASSES), np.random.default_rng(0))


def test_the_committed_model_loads_as_an_mlp():
    served = model.load(DEFAULT_MODEL_PATH)
    assert isinstance(served, Network)
    assert served.describe()["kind"] == "mlp"


def test_a_saved_file_records_its_kind(tmp_path, small_network):
    path = tmp_path / "model.npz"
    small_network.save(path)
    with np.load(path, allow_pickle=False) as archive:
        assert str(archive["kind"]) == "mlp"


def test_a_file_written_before_kinds_existed_loads_as_an_mlp(tmp_path, small_network):
    path = tmp_path / "legacy.npz"
    arrays = small_network.to_arrays()
    np.savez(path, format_version=np.array(1), metadata=np.array("{}"), **arrays)
    assert model.load(path).version == small_network.version


def test_an_unknown_kind_is_refused_naming_the_known_ones(tmp_path, small_network):
    path = tmp_path / "other.npz"
    np.savez(path, format_version=np.array(2), kind=np.array("transformer"),
             metadata=np.array("{}"), **small_network.to_arrays())
    with pytest.raises(ModelFileError, match="unknown model kind 'transformer' \\(known: mlp\\)"):
        model.load(path)


def test_another_kind_is_one_entry_in_the_table(tmp_path, monkeypatch, small_network):
    class Constant:
        """A kind that answers the same probabilities for every image."""

        @classmethod
        def from_arrays(cls, path, arrays, metadata):
            instance = cls()
            instance.probabilities = arrays["probabilities"]
            return instance

    monkeypatch.setitem(MODEL_KINDS, "constant", Constant)
    path = tmp_path / "constant.npz"
    np.savez(path, format_version=np.array(2), kind=np.array("constant"), metadata=np.array("{}"),
             probabilities=np.full(N_CLASSES, 0.1, np.float32))
    assert model.load(path).probabilities.shape == (N_CLASSES,)


def test_loaded_weights_are_read_only_so_the_version_cannot_go_stale(tmp_path, small_network):
    path = tmp_path / "model.npz"
    small_network.save(path)
    served = model.load(path)
    with pytest.raises(ValueError):
        served.weights[0][0, 0] = 1.0
    assert served.version == small_network.version


def test_images_may_be_fields_or_flat_rows(small_network):
    fields = np.random.default_rng(1).random((3, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(
        small_network.predict_proba(fields), small_network.predict_proba(fields.reshape(3, N_PIXELS))
    )


def test_recognise_gives_probabilities_and_a_decision_per_field(small_network):
    prediction = small_network.recognise(np.zeros((4, 28, 28), np.float32))
    assert prediction.probabilities.shape == (4, N_CLASSES)
    assert prediction.is_digit.shape == (4,) and prediction.is_digit.dtype == bool


def test_describe_is_plain_data_without_weights(small_network):
    description = small_network.describe()
    json.dumps(description)
    assert description["architecture"] == f"{N_PIXELS} → 16 → {N_CLASSES}"
    assert description["parameter_count"] == N_PIXELS * 16 + 16 + 16 * N_CLASSES + N_CLASSES
