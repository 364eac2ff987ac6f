"""Scoring throughput on CPU: pairs per second with batch 1 and batch 16.

Run with `python -m pytest benchmarks/test_metrics_bench.py`. Each case scores a synthetic run of
32 pairs at 512 x 512 with dino, clip_i, clip_t and bg (LPIPS is left out because its weights are
not downloaded). Two encoder sets:

- `tiny`: the seeded random `tiny` encoders, as in smoke runs;
- `real-architecture`: open_clip ViT-B-32 and timm ViT-S/16 with random weights, the compute of the
  default encoders without their weights.

Both sets are built once and handed to the scorer in place of its loaders, so the timings leave
out encoder loading and measure reading, preprocessing, encoding and the background metrics.

`extra_info["pairs_per_second"]` in the report is the pair count over the mean round time.
"""

from __future__ import annotations

import os

import open_clip
import pytest
import timm
import torch

from egobench.metrics import scoring
from egobench.metrics.clip_encoder import ClipEncoder, load_clip
from egobench.metrics.dino_encoder import DinoEncoder, load_dino
from egobench.metrics.scoring import score_run
from egobench.metrics.testing import make_run_folder

for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(variable, "1")

PAIRS = 32
SIZE = 512
METRICS = "dino,clip_i,clip_t,bg_psnr,bg_ssim,bg_mse"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench-run")
    make_run_folder(folder, pair_count=PAIRS, size=SIZE, references=8, failed=0)
    return folder


@pytest.fixture(scope="module")
def tiny_encoders():
    return load_clip("tiny"), load_dino("tiny")


@pytest.fixture(scope="module")
def real_architecture_encoders():
    torch.manual_seed(0)
    clip_model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained=None)
    clip = ClipEncoder(clip_model, preprocess, open_clip.get_tokenizer("ViT-B-32"), "ViT-B-32/random", torch.device("cpu"))
    dino_model = timm.create_model("vit_small_patch16_224.dino", pretrained=False, num_classes=0)
    dino = DinoEncoder(dino_model, "vit_small_patch16_224.dino/random", torch.device("cpu"))
    return clip, dino


@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("encoders", ["tiny", "real-architecture"])
def test_scoring_throughput(benchmark, run_dir, tmp_path, monkeypatch, encoders, batch_size, request):
    clip, dino = request.getfixturevalue(f"{encoders.replace('-', '_')}_encoders")
    monkeypatch.setattr(scoring, "load_clip", lambda *args, **kwargs: clip)
    monkeypatch.setattr(scoring, "load_dino", lambda *args, **kwargs: dino)

    def score():
        return score_run(
            run_dir,
            metrics=METRICS,
            batch_size=batch_size,
            clip_model="tiny",
            dino_model="tiny",
            out_dir=tmp_path,
            show_progress=False,
        )

    table = benchmark.pedantic(score, rounds=2, iterations=1, warmup_rounds=0)
    assert len(table) == PAIRS
    assert table["dino"].notna().all()
    benchmark.extra_info["pairs"] = PAIRS
    benchmark.extra_info["pairs_per_second"] = PAIRS / benchmark.stats.stats.mean
