"""The photo generator: seeded, deterministic, JPEG pictures of digits on paper, and of paper alone."""

import io

import numpy as np
import pytest
from PIL import Image

from model.constants import MAX_INTENSITY
from model.preprocess import NoInkError, preprocess
from model.training.handwriting import render_strokes
from model.training.photos import BLANK_KINDS, PHOTO_SIDE, blank_photo, photo_of, photo_of_strokes

SEVEN = [[(80, 60), (200, 60), (120, 230)]]
N_SEEDS = 6


def seven_ink():
    return np.asarray(render_strokes(SEVEN), dtype=np.float32) / MAX_INTENSITY


def decoded(jpeg):
    image = Image.open(io.BytesIO(jpeg))
    image.load()
    return image


def test_the_same_seed_gives_the_same_photo():
    first = photo_of(seven_ink(), np.random.default_rng(5))
    again = photo_of(seven_ink(), np.random.default_rng(5))
    assert first == again


def test_different_seeds_give_different_photos():
    photos = {photo_of(seven_ink(), np.random.default_rng(seed)) for seed in range(N_SEEDS)}
    assert len(photos) == N_SEEDS


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_a_photo_is_an_rgb_jpeg_of_a_phone_photo_size(seed):
    image = decoded(photo_of_strokes(SEVEN, np.random.default_rng(seed)))
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    assert PHOTO_SIDE[0] <= min(image.size) <= PHOTO_SIDE[1]


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_the_digit_shows_darker_than_its_paper(seed):
    pixels = np.asarray(decoded(photo_of(seven_ink(), np.random.default_rng(seed))).convert("L"), dtype=float)
    assert np.percentile(pixels, 1) < np.median(pixels) - 25


def test_the_photos_vary_in_size_and_brightness():
    images = [decoded(photo_of(seven_ink(), np.random.default_rng(seed))) for seed in range(N_SEEDS)]
    assert len({image.size for image in images}) > 1
    medians = [np.median(np.asarray(image.convert("L"))) for image in images]
    assert max(medians) - min(medians) > 10


@pytest.mark.parametrize("kind", BLANK_KINDS)
def test_a_photo_of_paper_alone_holds_no_ink(kind):
    jpeg = blank_photo(np.random.default_rng(11), kind)
    assert decoded(jpeg).format == "JPEG"
    with pytest.raises(NoInkError):
        preprocess(jpeg)


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_a_photo_of_a_clear_seven_reads_as_seven(client, seed):
    response = client.post("/predict", data=photo_of(seven_ink(), np.random.default_rng(seed)),
                           content_type="image/jpeg")
    assert response.status_code == 200
    assert response.get_json()["digit"] == 7
