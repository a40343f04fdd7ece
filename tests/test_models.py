"""Model registry, MesoNet with its original weights, local-only weights, save/load, score-crops, Grad-CAM."""

from __future__ import annotations

import shutil

import cv2
import h5py
import keras
import numpy as np
import pandas as pd
import pytest

from conftest import require_shared
from deepfake_detection.cli import main
from deepfake_detection.explain import gradcam_heatmaps
from deepfake_detection.models import REGISTRY, InputNormalization, build_model, load_model, read_images, score_images

RNG = np.random.default_rng(0)


def _images(size: int, n: int = 2) -> np.ndarray:
    return RNG.uniform(0, 255, (n, size, size, 3)).astype(np.float32)  # 0–255 RGB


def _mesonet(*parts: str):
    return require_shared("weights", "mesonet", *parts)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_registry_entry_builds_and_predicts_p_fake(name):
    size = max(REGISTRY[name].min_size, 32)
    model = build_model(name, size=size)
    p = np.asarray(model(_images(size), training=False))
    assert p.shape == (2, 1)
    assert np.all((p >= 0) & (p <= 1))
    # the model's InputNormalization is the only input scaling (EfficientNet/MobileNetV3 have their own cut off)
    nested = [layer.layers for layer in model.layers if layer.name == "backbone"]
    scaling = [layer.name for layer in model.layers + sum(nested, [])
               if isinstance(layer, (keras.layers.Rescaling, keras.layers.Normalization))]
    assert scaling == []


@pytest.mark.parametrize("mode, app", [("tf", "xception"), ("caffe", "resnet50"), ("torch", "densenet")])
def test_in_model_normalisation_matches_the_application_preprocess_input(mode, app):
    x = _images(8)
    expected = getattr(keras.applications, app).preprocess_input(x.copy())
    np.testing.assert_allclose(np.asarray(InputNormalization(mode)(x)), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name, file", [("meso4", "Meso4_DF.h5"), ("mesoinception4", "MesoInception_DF.h5")])
def test_mesonet_df_weights_score_fakes_high_and_reals_low(name, file):
    images = sorted(_mesonet("test_images").glob("*/*.jpg"))
    model = build_model(name, weights=_mesonet(file))
    scores = score_images(model, images)
    fake = scores[scores["path"].str.contains("/df/")]["p_fake"]
    real = scores[scores["path"].str.contains("/real/")]["p_fake"]
    assert len(fake) == 2 and len(real) == 2
    assert (fake > 0.9).all(), scores
    assert (real < 0.1).all(), scores


def test_mesonet_loader_names_a_wrong_file_or_size():
    with pytest.raises(ValueError, match="MesoInception"):
        build_model("meso4", weights=_mesonet("MesoInception_DF.h5"))
    with pytest.raises(ValueError, match="need size 256"):
        build_model("meso4", size=128, weights=_mesonet("Meso4_DF.h5"))


def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    model = build_model("meso4", weights=_mesonet("Meso4_DF.h5"))
    model.save(tmp_path / "model.keras")
    x = _images(256)
    np.testing.assert_array_equal(load_model(tmp_path / "model.keras").predict(x, verbose=0),
                                  model.predict(x, verbose=0))
    model.save_weights(tmp_path / "meso4.weights.h5")
    np.testing.assert_array_equal(build_model("meso4", weights=tmp_path / "meso4.weights.h5").predict(x, verbose=0),
                                  model.predict(x, verbose=0))


def test_unsafe_corrupt_and_truncated_model_files_are_refused_with_their_name(tmp_path):
    from deepfake_detection.models import ModelFileError

    model = build_model("meso4", size=64)
    good = tmp_path / "model.keras"
    model.save(good)
    data = good.read_bytes()
    cases = {"truncated.keras": data[: len(data) // 2], "noise.keras": np.random.default_rng(0).bytes(4096),
             "empty.keras": b""}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelFileError, match=name.replace(".", r"\.") + ".*not a loadable Keras model"):
            load_model(tmp_path / name)
    with pytest.raises(ModelFileError, match="model file not found"):
        load_model(tmp_path / "absent.keras")
    inputs = keras.Input((4,))
    unsafe = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))  # arbitrary code inside
    unsafe.save(tmp_path / "lambda.keras")
    with pytest.raises(ModelFileError, match=r"lambda\.keras: refused in safe mode"):
        load_model(tmp_path / "lambda.keras")


def test_standardize_statistics_survive_save_and_load(tmp_path):
    stats = ([120.0, 100.0, 90.0], [60.0, 55.0, 50.0])
    model = build_model("meso4", size=32, normalization="standardize", channel_stats=stats)
    model.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    config = loaded.get_layer("input_normalization").get_config()
    assert (config["mode"], config["mean"], config["std"]) == ("standardize", *stats)
    x = _images(32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="channel_stats"):
        build_model("meso4", size=32, normalization="standardize")


def test_imagenet_weights_load_from_a_local_folder_without_keras_download(tmp_path, monkeypatch):
    from keras.src.legacy.saving import legacy_h5_format
    from keras.src.utils import file_utils

    monkeypatch.setattr(file_utils, "get_file", lambda *a, **k: pytest.fail("Keras download/cache route used"))
    spec = REGISTRY["mobilenet_v3_small"]
    source = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3))
    with h5py.File(tmp_path / spec.weights_file, "w") as f:  # same layout as the published notop file
        legacy_h5_format.save_weights_to_hdf5_group(f, source)
    backbone = build_model("mobilenet_v3_small", size=32, weights="imagenet",
                           weights_dir=tmp_path).get_layer("backbone")
    for name in ("conv", "expanded_conv_project"):
        np.testing.assert_array_equal(backbone.get_layer(name).get_weights()[0],
                                      source.get_layer(name).get_weights()[0])


def test_missing_imagenet_file_names_the_file_and_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"xception_weights_tf_dim_ordering_tf_kernels_notop\.h5.*Kaggle"):
        build_model("xception", weights="imagenet", weights_dir=tmp_path)


def test_input_below_the_minimum_size_is_refused():
    with pytest.raises(ValueError, match="xception needs input size >= 71"):
        build_model("xception", size=64)
    with pytest.raises(ValueError, match=">= 75"):
        build_model("inception_resnet_v2", size=72)


def test_score_crops_cli_writes_p_fake_per_image(tmp_path, capsys):
    images = sorted(_mesonet("test_images").glob("*/*.jpg"))
    out = tmp_path / "scores.csv"
    rc = main(["score-crops", "--model", "meso4", "--weights", str(_mesonet("Meso4_DF.h5")),
               *map(str, images), "--out", str(out)])
    assert rc == 0
    scores = pd.read_csv(out)
    assert list(scores.columns) == ["path", "p_fake"] and len(scores) == 4
    assert scores.set_index("path").loc[str(images[0]), "p_fake"] > 0.9  # df00204.jpg
    assert "df00204.jpg" in capsys.readouterr().out


def test_gradcam_cli_draws_real_and_fake_crops_of_a_saved_model(tmp_path):
    crops = tmp_path / "crops"
    rows = []
    for i, image in enumerate(sorted(_mesonet("test_images").glob("*/*.jpg"))):
        (crops / image.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(image, crops / image.parent.name / image.name)
        rows.append({"video_id": image.stem, "frame": 0, "track": 0, "x1": 0, "y1": 0, "x2": 1, "y2": 1,
                     "confidence": 1.0, "crop_path": f"{image.parent.name}/{image.name}",
                     "label": int(image.parent.name == "df"), "group": i})
    pd.DataFrame(rows).to_csv(crops / "manifest.csv", index=False)
    build_model("meso4", weights=_mesonet("Meso4_DF.h5")).save(tmp_path / "model.keras")
    out = tmp_path / "figures" / "gradcam_meso4.png"
    assert main(["gradcam", "--model-path", str(tmp_path / "model.keras"), "--crops", str(crops),
                 "--n", "2", "--out", str(out)]) == 0
    figure = cv2.imread(str(out))
    height, width, _ = figure.shape
    assert 300 < height < width < 1200  # 2 REAL + 2 FAKE: two rows of crop | overlay pairs at 120 dpi
    assert len(np.unique(figure.reshape(-1, 3), axis=0)) > 5000  # photos under colour maps, not a blank canvas


def _red_detector() -> keras.Model:
    """P(FAKE) grows with the red excess of the pixels, seen by a 1x1 conv inside a nested backbone."""
    pixels = keras.Input((32, 32, 3))
    backbone = keras.Model(pixels, keras.layers.Conv2D(1, 1, activation="relu", name="red")(pixels), name="backbone")
    x = keras.Input((32, 32, 3))
    y = backbone(keras.layers.Rescaling(1 / 255)(x))  # a layer before the backbone, as registry models have
    y = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(y))
    model = keras.Model(x, y)
    backbone.get_layer("red").set_weights([np.array([1.0, -0.5, -0.5]).reshape(1, 1, 3, 1), np.zeros(1)])
    model.layers[-1].set_weights([np.ones((1, 1)), np.zeros(1)])
    return model


def test_gradcam_heatmap_lies_on_the_evidence_for_fake():
    images = np.full((2, 32, 32, 3), 128, np.float32)  # grey: no red excess, no evidence
    images[0, 2:10, 4:12] = (250, 20, 20)  # a red patch top left ...
    images[1, 20:30, 18:30] = (250, 20, 20)  # ... and bottom right
    heatmaps = gradcam_heatmaps(_red_detector(), images)
    assert heatmaps.shape == (2, 32, 32)
    for heatmap, (rows, cols) in zip(heatmaps, [(slice(2, 10), slice(4, 12)), (slice(20, 30), slice(18, 30))],
                                     strict=True):
        assert heatmap[rows, cols].sum() > 0.95 * heatmap.sum() > 0
        assert heatmap[rows, cols].min() == pytest.approx(1.0, abs=1e-3)


def test_gradcam_heatmaps_of_a_registry_backbone_have_the_input_size():
    heatmaps = gradcam_heatmaps(build_model("mobilenet_v3_small", size=64), _images(64, 3))
    assert heatmaps.shape == (3, 64, 64) and np.isfinite(heatmaps).all()


def test_read_images_resizes_to_the_model_input():
    images = read_images(sorted(_mesonet("test_images").glob("*/*.jpg")), 96)
    assert images.shape == (4, 96, 96, 3) and images.dtype == np.float32 and images.max() > 200
