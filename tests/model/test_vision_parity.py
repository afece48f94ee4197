"""The vision side (towers, mm_projector, FRLP, FRGCA, encode_*) against the official implementation.

The oracle (FACELLAVA_ORACLE, default ../shared/fixtures/official-tiny-A) holds a random tiny Face-LLaVA in
the downloaded layouts and what the official code computed from it. Everything here is sized from the
fixture's own configs and weights are loaded by their official names, so any fixture with this layout works.
"""

from __future__ import annotations

import json

import pytest
import torch
from engine_support import ORACLE, Oracle
from safetensors.torch import load_file
from torch.nn import functional
from transformers.activations import ACT2FN

from common.engine_protocol import CROP_SIZE, LANDMARK_POINTS
from conversion.released_config import read_tower_config, text_config_from
from model.config import FaceLlavaConfig
from model.landmark_modules import CROSS_ATTN_BRANCH_SCALE, LANDMARK_FEATURES, NUM_LANDMARKS
from model.projector import build_mm_projector
from model.towers import activation_by_name
from model.transforms import image_to_pixels, video_to_pixels
from model.vision_encoder import LANDMARK_CROP_PIXELS, LANDMARK_MODULE_NAMES, FaceLlavaVision

_ORACLE = Oracle(ORACLE)
FEATURE_TOLERANCE = 1e-5  # relative to the reference's max magnitude (the official run itself moves ~1e-7)

_FACELLAVA_FIELDS = (
    "mm_hidden_size",
    "mm_projector_type",
    "mm_vision_select_layer",
    "mm_vision_select_feature",
    "landmarks_projector_type",
    "global_landmarks_projector_type",
    "cross_attn_type",
)
_TOWER_FOLDERS = {"image_tower": "LanguageBind_Image", "video_tower": "LanguageBind_Video_merge"}


def _tower_config(prefix: str) -> dict:
    """The tower's config as the converter reads it from the download (the same checked fields)."""
    return read_tower_config(_ORACLE.folder(prefix), video=prefix == _TOWER_FOLDERS["video_tower"])[0]


def oracle_config(**overrides: object) -> FaceLlavaConfig:
    """The oracle's Face-LLaVA fields and tower configs; the LLaMA config as the converter reads it (the vision
    side needs only its width, but every size must be the oracle's for the config to be valid at all sizes)."""
    released = json.loads((_ORACLE.folder("FaceLLaVA") / "config.json").read_text())
    fields = {
        "text_config": text_config_from(released, "oracle FaceLLaVA config.json"),
        "image_tower_config": _tower_config(_TOWER_FOLDERS["image_tower"]),
        "video_tower_config": _tower_config(_TOWER_FOLDERS["video_tower"]),
        **{k: released[k] for k in _FACELLAVA_FIELDS if k in released},
        "landmark_conditioning": "on",
    }
    return FaceLlavaConfig(**{**fields, **overrides})


def oracle_state_dict(with_landmarks: bool) -> dict[str, torch.Tensor]:
    """Towers from the LanguageBind folders (as the official loader does), the rest from FaceLLaVA's file."""
    state = {}
    for child, prefix in _TOWER_FOLDERS.items():
        weights = torch.load(_ORACLE.folder(prefix) / "pytorch_model.bin", weights_only=True, mmap=True)
        state.update(
            {
                f"{child}.{k.removeprefix('vision_model.')}": v
                for k, v in weights.items()
                if k.startswith("vision_model.")
            }
        )
    children = ("mm_projector", *(LANDMARK_MODULE_NAMES if with_landmarks else ()))
    for key, value in load_file(_ORACLE.folder("FaceLLaVA") / "model.safetensors").items():
        if key.removeprefix("model.").split(".")[0] in children:
            state[key.removeprefix("model.")] = value
    return state


def _expected(name: str) -> torch.Tensor:
    return torch.from_numpy(_ORACLE.array(name))


def assert_close(actual: torch.Tensor, name: str) -> None:
    expected = _expected(name)
    assert actual.shape == expected.shape, f"{name}: shape {list(actual.shape)} != {list(expected.shape)}"
    error = (actual - expected).abs().max() / expected.abs().max()
    assert error <= FEATURE_TOLERANCE, f"{name}: max relative error {error:.3g}"


@pytest.fixture(scope="module")
def vision() -> FaceLlavaVision:
    model = FaceLlavaVision(oracle_config()).eval()
    model.load_state_dict(oracle_state_dict(with_landmarks=True), strict=True)
    return model


@pytest.fixture(scope="module")
def image_pixels() -> torch.Tensor:
    """[1, 3, S, S] computed by our transform from the crop PNG (pixel parity: test_transforms.py)."""
    return image_to_pixels(_ORACLE.png("image_crop_256.png"), oracle_config().image_tower_config.image_size)[None]


@pytest.fixture(scope="module")
def video_pixels() -> torch.Tensor:
    config = oracle_config().video_tower_config
    frames = _ORACLE.video_frames()
    assert frames.shape[0] == config.num_frames
    return video_to_pixels(frames, config.image_size)[None]


@pytest.fixture(scope="module")
def image_landmarks() -> torch.Tensor:
    return _expected("image_landmarks_px")[None]


@pytest.fixture(scope="module")
def video_landmarks() -> torch.Tensor:
    return _expected("video_landmarks_px")[None]


@torch.no_grad()
def test_image_tower_features_match(vision, image_pixels):
    assert_close(vision.image_tower(image_pixels)[:, 1:], "image_tower_features")


@torch.no_grad()
def test_video_tower_features_match(vision, video_pixels):
    features = vision.video_tower(video_pixels.flatten(0, 1)).unflatten(0, video_pixels.shape[:2])
    assert_close(features, "video_tower_features")


@pytest.mark.parametrize("kind", ["image", "video"])
@torch.no_grad()
def test_landmark_projectors_match(vision, kind):
    normalised = _expected(f"{kind}_landmarks")  # the official normalised input (px / 256, flattened)
    assert_close(vision.landmarks_projector(normalised), f"{kind}_landmark_region_features")
    assert_close(vision.global_landmarks_projector(normalised), f"{kind}_global_landmark_features")


@pytest.mark.parametrize("with_landmarks", [False, True], ids=["nolm", "lm"])
@torch.no_grad()
def test_encode_images_matches(vision, image_pixels, image_landmarks, with_landmarks):
    out = vision.encode_images(image_pixels, image_landmarks if with_landmarks else None)
    assert_close(out, f"encode_images_{'lm' if with_landmarks else 'nolm'}")


@pytest.mark.parametrize("with_landmarks", [False, True], ids=["nolm", "lm"])
@torch.no_grad()
def test_encode_videos_matches(vision, video_pixels, video_landmarks, with_landmarks):
    out = vision.encode_videos(video_pixels, video_landmarks if with_landmarks else None)
    assert_close(out, f"encode_videos_{'lm' if with_landmarks else 'nolm'}")


@torch.no_grad()
def test_conditioning_off_builds_no_landmark_modules_and_ignores_landmarks(image_pixels, image_landmarks):
    model = FaceLlavaVision(oracle_config(landmark_conditioning="off")).eval()
    model.load_state_dict(oracle_state_dict(with_landmarks=False), strict=True)
    assert not any(hasattr(model, name) for name in LANDMARK_MODULE_NAMES)
    assert_close(model.encode_images(image_pixels, image_landmarks), "encode_images_nolm")


@pytest.mark.parametrize(("item", "kind"), [("image", "images"), ("video", "videos")])
@torch.no_grad()
def test_batched_items_equal_items_one_at_a_time(item, kind, vision, request):
    """The fixture has one image and one clip; a second, different item in the same batch must not mix with it
    (for clips: no frames mixed across clips)."""
    pixels = request.getfixturevalue(f"{item}_pixels")
    landmarks = request.getfixturevalue(f"{item}_landmarks")
    second_pixels = pixels.flip(-1) * 0.5
    second_landmarks = LANDMARK_CROP_PIXELS - landmarks
    encode = getattr(vision, f"encode_{kind}")
    batch = encode(torch.cat([pixels, second_pixels]), torch.cat([landmarks, second_landmarks]))
    one = encode(second_pixels, second_landmarks)
    assert_close(batch[:1], f"encode_{kind}_lm")
    torch.testing.assert_close(batch[1:], one, rtol=1e-5, atol=1e-5 * one.abs().max().item())


@torch.no_grad()
def test_linear_landmark_projector_gives_one_token_per_frame(image_pixels, video_pixels, video_landmarks):
    """`linear` (the official fallback): Linear(136, H), one landmark token. With a single key, attention
    weights are all 1, so FRGCA reduces to a closed form that this test computes by hand."""
    torch.manual_seed(0)
    model = FaceLlavaVision(oracle_config(landmarks_projector_type="linear")).eval()
    state = oracle_state_dict(with_landmarks=False)
    state.update(
        {
            k: 0.2 * torch.randn_like(v)
            for k, v in model.state_dict().items()
            if k.split(".")[0] in LANDMARK_MODULE_NAMES
        }
    )
    model.load_state_dict(state, strict=True)
    hidden = model.global_landmarks_projector.out_features
    assert tuple(model.landmarks_projector.weight.shape) == (hidden, LANDMARK_FEATURES)

    out = model.encode_videos(video_pixels, video_landmarks)
    visual = model.encode_videos(video_pixels)
    assert out.shape == visual.shape

    lm = (video_landmarks / LANDMARK_CROP_PIXELS).reshape(*video_landmarks.shape[:2], LANDMARK_FEATURES)
    local, global_ = model.landmarks_projector, model.global_landmarks_projector
    token = functional.linear(lm, local.weight, local.bias) + global_(lm)  # [B, T, H]: one per frame
    mha = model.landmarks_cross_attn.cross_attn.attn
    w_v, b_v = mha.in_proj_weight[2 * hidden :], mha.in_proj_bias[2 * hidden :]
    attended = mha.out_proj(token @ w_v.T + b_v)[:, :, None, :]  # the same for every visual token
    branch = model.landmarks_cross_attn.linear_proj(model.landmarks_cross_attn.cross_attn.ln(visual + attended))
    expected = CROSS_ATTN_BRANCH_SCALE * branch + visual
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5 * expected.abs().max().item())
    assert (out - visual).abs().max() > 1e-3 * visual.abs().max()  # the landmark branch really ran
    assert model.encode_images(image_pixels, video_landmarks[:, 0]).shape == model.encode_images(image_pixels).shape


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cross_attn_type": "masked"}, "cross_attn_type 'masked'"),
        ({"cross_attn_type": "masked", "landmark_conditioning": "off"}, "cross_attn_type 'masked'"),
        ({"cross_attn_type": "fancy"}, "unsupported cross_attn_type 'fancy'"),
        (
            {"mm_projector_type": "naive_face_mask_adapter"},
            "unsupported mm_projector_type 'naive_face_mask_adapter'",
        ),
        ({"landmarks_projector_type": "mlp2x_gelu"}, "unsupported landmarks_projector_type 'mlp2x_gelu'"),
        ({"landmarks_projector_type": None}, "unsupported landmarks_projector_type None"),
        ({"global_landmarks_projector_type": "identity"}, "unsupported global_landmarks_projector_type"),
        ({"mm_vision_select_feature": "cls"}, "unsupported mm_vision_select_feature 'cls'"),
        ({"mm_vision_select_layer": -100}, "mm_vision_select_layer -100"),
        ({"mm_hidden_size": 7}, "differs from mm_hidden_size 7"),
        ({"landmark_conditioning": "maybe"}, "landmark_conditioning must be 'on' or 'off'"),
        (
            {"image_tower_config": {**_tower_config("LanguageBind_Image"), "hidden_act": "swish"}},
            "hidden_act 'swish'",
        ),
        (
            {"video_tower_config": {**_tower_config("LanguageBind_Video_merge"), "add_time_attn": False}},
            "add_time_attn",
        ),
    ],
)
def test_unsupported_configs_are_refused_by_name(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        FaceLlavaVision(oracle_config(**overrides))


@torch.no_grad()
def test_bad_shapes_are_refused(vision, image_pixels, video_pixels, image_landmarks, video_landmarks):
    with pytest.raises(ValueError, match="image pixel_values"):
        vision.encode_images(image_pixels[..., :-1])
    with pytest.raises(ValueError, match="image pixel_values"):
        vision.encode_images(image_pixels[0])
    with pytest.raises(ValueError, match="video pixel_values"):
        vision.encode_videos(video_pixels[:, :-1])
    with pytest.raises(ValueError, match="not a whole number of"):
        vision.video_tower(video_pixels[0, :-1])
    with pytest.raises(ValueError, match="landmarks must have shape"):
        vision.encode_images(image_pixels, image_landmarks[:, : NUM_LANDMARKS - 1])
    with pytest.raises(ValueError, match="landmarks must have shape"):
        vision.encode_images(image_pixels, torch.cat([image_landmarks, image_landmarks]))
    with pytest.raises(ValueError, match="landmarks must have shape"):
        vision.encode_videos(video_pixels, video_landmarks[:, :-1])


def test_model_landmark_constants_equal_the_protocol():
    """The vision modules keep their own copies (they import torch only); the gateway's must be the same."""
    assert NUM_LANDMARKS == LANDMARK_POINTS
    assert LANDMARK_CROP_PIXELS == CROP_SIZE


@pytest.mark.parametrize("name", ["gelu", "quick_gelu", "gelu_new", "gelu_pytorch_tanh"])
def test_tower_activations_equal_transformers(name):
    """Activations a LanguageBind config may name, against transformers' (which the official code uses)."""
    x = torch.linspace(-8, 8, 1001, dtype=torch.float64)
    torch.testing.assert_close(activation_by_name(name)(x), ACT2FN[name](x))


@pytest.mark.parametrize(
    ("projector_type", "names"),
    [
        ("mlp2x_gelu", {"0.weight", "0.bias", "2.weight", "2.bias"}),
        ("mlp3x_gelu", {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"}),
        ("linear", {"weight", "bias"}),
        ("identity", set()),
    ],
)
def test_mm_projector_tensor_names_are_the_official_ones(projector_type, names):
    assert set(build_mm_projector(projector_type, 16, 16).state_dict()) == names


@torch.no_grad()
def test_cls_patch_feature_keeps_the_cls_token(vision, image_pixels):
    model = FaceLlavaVision(oracle_config(mm_vision_select_feature="cls_patch")).eval()
    model.load_state_dict(vision.state_dict(), strict=True)
    with_cls = model.encode_images(image_pixels)
    torch.testing.assert_close(with_cls[:, 1:], vision.encode_images(image_pixels), rtol=0, atol=0)
    assert with_cls.shape[1] == vision.image_tower.embeddings.position_embedding.num_embeddings


@torch.no_grad()
def test_bfloat16_model_takes_float32_inputs(vision, image_pixels, video_pixels, image_landmarks, video_landmarks):
    """On GPU the engine runs bf16 while pixels and landmarks arrive float32: a dtype clash would kill the
    engine core, so the casts are checked here; the result must still be the official one at bf16 precision
    (landmarks move it by ~45 %, so 5 % still catches a dropped branch)."""
    model = FaceLlavaVision(oracle_config()).eval()
    model.load_state_dict(vision.state_dict())
    model.to(torch.bfloat16)
    for out, name in (
        (model.encode_images(image_pixels, image_landmarks), "encode_images_lm"),
        (model.encode_videos(video_pixels, video_landmarks), "encode_videos_lm"),
    ):
        assert out.dtype == torch.bfloat16
        expected = _expected(name)
        error = (out.float() - expected).abs().max() / expected.abs().max()
        assert error < 0.05, f"{name}: bf16 relative error {error:.3g}"
