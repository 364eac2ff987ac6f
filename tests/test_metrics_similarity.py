"""DINO, CLIP-I and CLIP-T on encoders with random weights saved by the test and loaded back."""

from __future__ import annotations

import numpy as np
import open_clip
import pytest
import timm
import torch
import torch.nn.functional as F
from PIL import Image

from egobench.metrics import Missing, PairImages
from egobench.metrics.clip_encoder import TINY_CONFIG, load_clip
from egobench.metrics.dino_encoder import TINY_ARCHITECTURE, load_dino
from egobench.metrics.similarity import ClipImageScore, ClipTextScore, DinoScore


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    torch.manual_seed(11)
    model = open_clip.create_model(TINY_CONFIG, pretrained=None)
    path = tmp_path_factory.mktemp("clip") / "clip.pt"
    torch.save(model.state_dict(), path)
    return load_clip("tiny", str(path))


@pytest.fixture(scope="module")
def dino(tmp_path_factory):
    timm_name, architecture = TINY_ARCHITECTURE
    torch.manual_seed(12)
    model = timm.create_model(timm_name, pretrained=False, num_classes=0, **architecture)
    path = tmp_path_factory.mktemp("dino") / "dino.pth"
    torch.save(model.state_dict(), path)
    return load_dino("tiny", str(path))


def _scene(seed: int, size: int = 64) -> tuple[Image.Image, np.ndarray]:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    mask = np.zeros((size, size), dtype=bool)
    top, left = rng.integers(0, size // 2, 2)
    mask[top : top + size // 3, left : left + size // 2] = True
    return Image.fromarray(pixels), mask


def _pair(pair_id: str, edited_seed: int, reference_seed: int, prompt: str = "a photo of a dog") -> PairImages:
    edited, source_mask = _scene(edited_seed)
    reference, reference_mask = _scene(reference_seed)
    return PairImages(
        pair_id=pair_id,
        edited=edited,
        source=edited,
        source_mask=source_mask,
        reference=reference,
        reference_mask=reference_mask,
        target_prompt=prompt,
        reference_digest=f"reference-{reference_seed}",
    )


def _swapped(pair: PairImages) -> PairImages:
    return PairImages(
        pair_id=pair.pair_id,
        edited=pair.reference,
        source_mask=pair.reference_mask,
        reference=pair.edited,
        reference_mask=pair.source_mask,
        reference_digest=f"swapped-{pair.pair_id}",
    )


@pytest.mark.parametrize("metric_class", [DinoScore, ClipImageScore])
def test_self_similarity_is_100(metric_class, clip, dino):
    metric = metric_class(dino if metric_class is DinoScore else clip)
    pair = _pair("same", edited_seed=1, reference_seed=1)
    other = _pair("other", edited_seed=1, reference_seed=2)

    same_score, other_score = metric([pair, other])
    assert same_score == pytest.approx(100.0, abs=1e-3)
    assert other_score < same_score


@pytest.mark.parametrize("metric_class", [DinoScore, ClipImageScore])
def test_object_similarity_symmetric(metric_class, clip, dino):
    metric = metric_class(dino if metric_class is DinoScore else clip)
    pairs = [_pair(f"p{i}", edited_seed=i, reference_seed=10 + i) for i in range(3)]

    forward = metric(pairs)
    backward = metric([_swapped(pair) for pair in pairs])
    assert forward == pytest.approx(backward, abs=1e-4)


@pytest.mark.parametrize("metric_class", [DinoScore, ClipImageScore, ClipTextScore])
def test_batch_equals_one_by_one(metric_class, clip, dino):
    encoder = dino if metric_class is DinoScore else clip
    prompts = ["a photo of a dog", "a cat on a sofa", "a red backpack"]
    pairs = [_pair(f"p{i}", edited_seed=i, reference_seed=20 + i % 2, prompt=prompts[i % 3]) for i in range(5)]

    batched = metric_class(encoder)(pairs)
    one_by_one = [metric_class(encoder)([pair])[0] for pair in pairs]
    assert batched == pytest.approx(one_by_one, abs=1e-4)


def test_clip_scores_by_hand(clip):
    pair = _pair("hand", edited_seed=3, reference_seed=4, prompt="a photo of a toy robot")

    # CLIP-I by hand: crop both images to their mask's bounding box, encode, take the cosine.
    def crop(image, mask):
        rows, columns = np.nonzero(mask)
        return image.crop((columns.min(), rows.min(), columns.max() + 1, rows.max() + 1))

    model = clip.model
    with torch.no_grad():
        edited_crop = model.encode_image(clip.preprocess(crop(pair.edited, pair.source_mask)).unsqueeze(0))[0]
        reference_crop = model.encode_image(clip.preprocess(crop(pair.reference, pair.reference_mask)).unsqueeze(0))[0]
        whole_edited = model.encode_image(clip.preprocess(pair.edited).unsqueeze(0))[0]
        text = model.encode_text(open_clip.get_tokenizer(TINY_CONFIG)([pair.target_prompt]))[0]
    clip_i_by_hand = 100 * float(F.cosine_similarity(edited_crop, reference_crop, dim=0))
    clip_t_by_hand = 100 * float(F.cosine_similarity(whole_edited, text, dim=0))

    assert ClipImageScore(clip)([pair])[0] == pytest.approx(clip_i_by_hand, abs=1e-4)
    assert ClipTextScore(clip)([pair])[0] == pytest.approx(clip_t_by_hand, abs=1e-4)


def test_clip_t_crops_nothing(clip):
    """CLIP-T uses the whole edited image, so the source mask must not change it."""
    pair = _pair("whole", edited_seed=5, reference_seed=6)
    moved_mask = _pair("whole", edited_seed=5, reference_seed=6)
    moved_mask.source_mask = np.roll(pair.source_mask, 20, axis=1)
    assert ClipTextScore(clip)([pair]) == ClipTextScore(clip)([moved_mask])


class _CountingEncoder:
    """Wraps an encoder and records how many images each call encodes."""

    def __init__(self, encoder):
        self.encoder = encoder
        self.name = encoder.name
        self.calls: list[int] = []

    def encode_images(self, images):
        self.calls.append(len(images))
        return self.encoder.encode_images(images)


def test_shared_reference_is_encoded_once(dino):
    counting = _CountingEncoder(dino)
    metric = DinoScore(counting)
    first_batch = [_pair(f"a{i}", edited_seed=i, reference_seed=99) for i in range(3)]
    second_batch = [_pair(f"b{i}", edited_seed=10 + i, reference_seed=99) for i in range(2)]

    metric(first_batch)
    metric(second_batch)
    # One reference crop plus three edited crops, then only the two edited crops.
    assert counting.calls == [1, 3, 2]


def test_empty_masks_give_reasons(dino):
    pair = _pair("empty-source", edited_seed=1, reference_seed=2)
    pair.source_mask = np.zeros_like(pair.source_mask)
    other = _pair("empty-reference", edited_seed=1, reference_seed=2)
    other.reference_mask = np.zeros_like(other.reference_mask)
    fine = _pair("fine", edited_seed=1, reference_seed=2)

    values = DinoScore(dino)([pair, other, fine])
    assert isinstance(values[0], Missing)
    assert "source mask is empty" in values[0].reason
    assert isinstance(values[1], Missing)
    assert "reference mask is empty" in values[1].reason
    assert isinstance(values[2], float)


def test_missing_input_gives_its_reason(clip):
    pair = _pair("no-prompt", edited_seed=1, reference_seed=2)
    pair.target_prompt = None
    pair.missing["target_prompt"] = "no target prompt for this pair"

    value = ClipTextScore(clip)([pair])[0]
    assert value == Missing("no target prompt for this pair")


def test_references_without_digest_are_not_shared(dino):
    """Two different references with equal boxes but no file digest must not share an embedding."""
    first = _pair("first", edited_seed=1, reference_seed=2)
    second = _pair("second", edited_seed=1, reference_seed=3)
    second.reference_mask = first.reference_mask.copy()
    for pair in (first, second):
        pair.reference_digest = None

    metric = DinoScore(dino)
    first_score, second_score = metric([first, second])
    assert first_score != second_score
    assert metric([second]) == [second_score]
