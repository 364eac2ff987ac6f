"""Embedding similarity metrics: DINO and CLIP-I between object crops, CLIP-T between image and prompt.

All three are cosine similarities scaled by 100, as DreamBooth-style subject-driven editing papers
report them. None is clipped at zero, so a value can be negative.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence

import torch
from PIL import Image

from egobench.metrics import register_metric
from egobench.metrics.base import Metric, MetricValue, Missing, PairImages
from egobench.metrics.crops import crop_to_mask, mask_box

if TYPE_CHECKING:
    from egobench.metrics.clip_encoder import ClipEncoder

SCALE = 100.0


class ImageEncoder(Protocol):
    name: str

    def encode_images(self, images: list[Image.Image]) -> torch.Tensor: ...


class ObjectSimilarity(Metric):
    """Cosine similarity x100 between the edited object and the reference object.

        score = 100 * cos(E(crop(edited, box(source_mask))), E(crop(reference, box(reference_mask))))

    `box` is the mask's tight bounding box and `E` the encoder with its own preprocessing. The
    edited image is cropped to the source mask's box because the edit is meant to put the new
    object where the source object was. A mask covering the whole image crops nothing.

    A reference shared by many pairs is encoded once per run: its embedding is cached under the
    SHA-256 of the reference file and its crop box.
    """

    inputs = ("edited", "source_mask", "reference", "reference_mask")

    def __init__(self, encoder: ImageEncoder):
        self.encoder = encoder
        self._reference_embeddings: dict[tuple, torch.Tensor] = {}

    def compute(self, pairs: Sequence[PairImages]) -> list[MetricValue]:
        edited_crops = []
        reference_keys = []
        uncached: dict[tuple, Image.Image] = {}
        reasons: dict[int, str] = {}
        for index, pair in enumerate(pairs):
            edited_crop = crop_to_mask(pair.edited, pair.source_mask)
            reference_box = mask_box(pair.reference_mask)
            if edited_crop is None:
                reasons[index] = "source mask is empty, so there is no object box to crop"
                continue
            if reference_box is None:
                reasons[index] = "reference mask is empty, so there is no object box to crop"
                continue

            edited_crops.append(edited_crop)
            if pair.reference_digest is None:
                # Without the file's digest two references cannot be distinguished, so this one is not cached.
                key = ("undigested", index)
            else:
                key = (pair.reference_digest, reference_box, pair.reference_mask.shape)
            reference_keys.append(key)
            if key not in self._reference_embeddings and key not in uncached:
                uncached[key] = crop_to_mask(pair.reference, pair.reference_mask)

        new_embeddings = {}
        if uncached:
            new_embeddings = dict(zip(uncached, self.encoder.encode_images(list(uncached.values()))))
            self._reference_embeddings.update(
                (key, embedding) for key, embedding in new_embeddings.items() if key[0] != "undigested"
            )
        edited_embeddings = self.encoder.encode_images(edited_crops) if edited_crops else None

        values: list[MetricValue] = []
        scored = 0
        for index in range(len(pairs)):
            if index in reasons:
                values.append(Missing(reasons[index]))
                continue
            key = reference_keys[scored]
            reference_embedding = new_embeddings[key] if key in new_embeddings else self._reference_embeddings[key]
            values.append(SCALE * float(edited_embeddings[scored] @ reference_embedding))
            scored += 1
        return values

    def describe(self) -> str:
        return self.encoder.name


@register_metric("dino")
class DinoScore(ObjectSimilarity):
    """DINO: object similarity with a self-supervised DINO ViT (default ViT-S/16) [CLS] embedding.

    Formula and crops as in `ObjectSimilarity`. DINO features separate instances of one class
    better than CLIP's, so DINO measures whether the edited object is the reference subject.
    """


@register_metric("clip_i")
class ClipImageScore(ObjectSimilarity):
    """CLIP-I: object similarity with the CLIP image embedding (default ViT-B/32, OpenAI weights).

    Formula and crops as in `ObjectSimilarity`.
    """


@register_metric("clip_t")
class ClipTextScore(Metric):
    """CLIP-T: cosine similarity x100 between the whole edited image and the target prompt.

        score = 100 * cos(E_image(edited), E_text(target_prompt))

    `E_image` and `E_text` are the two towers of one CLIP model (default ViT-B/32, OpenAI weights),
    with open_clip's preprocessing and tokenizer. The edited image is not cropped. Text embeddings
    are cached per prompt.
    """

    inputs = ("edited", "target_prompt")

    def __init__(self, encoder: ClipEncoder):
        self.encoder = encoder
        self._text_embeddings: dict[str, torch.Tensor] = {}

    def compute(self, pairs: Sequence[PairImages]) -> list[MetricValue]:
        prompts = list(dict.fromkeys(pair.target_prompt for pair in pairs))
        uncached = [prompt for prompt in prompts if prompt not in self._text_embeddings]
        if uncached:
            self._text_embeddings.update(zip(uncached, self.encoder.encode_texts(uncached)))

        image_embeddings = self.encoder.encode_images([pair.edited for pair in pairs])
        return [
            SCALE * float(image_embedding @ self._text_embeddings[pair.target_prompt])
            for pair, image_embedding in zip(pairs, image_embeddings, strict=True)
        ]

    def describe(self) -> str:
        return self.encoder.name
