"""The app factory and its configuration."""

import subprocess
import sys
from pathlib import Path

import pytest

import model
from app import create_app
from app.config import (
    DEFAULT_CORRECTIONS_PER_MINUTE,
    DEFAULT_MAX_STROKE_POINTS,
    DEFAULT_MAX_STROKES,
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_UPLOAD_TIMEOUT_SECONDS,
    config_from_env,
)
from bench.support.digits import digit_png
from model.constants import DEFAULT_MODEL_PATH
from model.network import ModelFileError
from model.preprocess import DEFAULT_MAX_PIXELS
from model.recognise import DEFAULT_MAX_DIGITS


def test_defaults_serve_the_committed_model_with_safe_limits():
    config = config_from_env({})
    assert config == {
        "MODEL_PATH": str(DEFAULT_MODEL_PATH),
        "MAX_CONTENT_LENGTH": DEFAULT_MAX_UPLOAD_BYTES,
        "MAX_IMAGE_PIXELS": DEFAULT_MAX_PIXELS,
        "MAX_DIGITS": DEFAULT_MAX_DIGITS,
        "MAX_STROKES": DEFAULT_MAX_STROKES,
        "MAX_STROKE_POINTS": DEFAULT_MAX_STROKE_POINTS,
        "UPLOAD_TIMEOUT_SECONDS": DEFAULT_UPLOAD_TIMEOUT_SECONDS,
        "CORRECTIONS": True,
        "CORRECTIONS_PER_MINUTE": DEFAULT_CORRECTIONS_PER_MINUTE,
        "DATABASE_URL": None,
        "TRUST_X_FORWARDED_FOR": False,
    }


def test_environment_variables_override_the_defaults():
    config = config_from_env({"MODEL_PATH": "/tmp/other.npz", "MAX_UPLOAD_BYTES": "1000",
                              "MAX_IMAGE_PIXELS": "5000"})
    assert config["MODEL_PATH"] == "/tmp/other.npz"
    assert config["MAX_CONTENT_LENGTH"] == 1000
    assert config["MAX_IMAGE_PIXELS"] == 5000


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1.5"])
def test_a_bad_limit_stops_start_up_naming_the_variable(value):
    with pytest.raises(ValueError, match="MAX_UPLOAD_BYTES"):
        config_from_env({"MAX_UPLOAD_BYTES": value})


def test_test_config_overrides_the_environment():
    app = create_app({"TESTING": True, "MAX_IMAGE_PIXELS": 1234})
    assert app.testing
    assert app.config["MAX_IMAGE_PIXELS"] == 1234


def test_the_model_is_loaded_once_at_start_up_and_never_per_request(monkeypatch):
    loads = []
    real_load = model.load

    def counting_load(*args, **kwargs):
        loads.append(args)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(model, "load", counting_load)
    client = create_app({"TESTING": True}).test_client()
    assert len(loads) == 1
    for path in ("/", "/model", "/healthz"):
        assert client.get(path).status_code == 200
    for endpoint in ("/predict", "/predict/number"):
        assert client.post(endpoint, data=digit_png(7), content_type="image/png").status_code == 200
    assert len(loads) == 1


def test_a_missing_model_file_stops_start_up_naming_it(tmp_path):
    missing = tmp_path / "nowhere.npz"
    with pytest.raises(ModelFileError, match="nowhere.npz"):
        create_app({"MODEL_PATH": str(missing)})


def test_a_malformed_model_file_stops_start_up_naming_it(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a model")
    with pytest.raises(ModelFileError, match="garbage.npz"):
        create_app({"MODEL_PATH": str(garbage)})


def test_the_web_app_loads_nothing_that_only_trains_or_evaluates():
    """A web worker imports the served core alone: no trainer, no data reader, no chart code."""
    loaded = _modules_loaded_by_create_app()
    assert "model.preprocess" in loaded and "model.network" in loaded
    assert [name for name in loaded if name.startswith(("model.training", "model.evaluation"))] == []


def _modules_loaded_by_create_app():
    """Return the names in sys.modules after create_app() in a fresh interpreter."""
    script = "import sys\nfrom app import create_app\ncreate_app({'TESTING': True})\nprint(' '.join(sys.modules))\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parent.parent)
    return result.stdout.split()
