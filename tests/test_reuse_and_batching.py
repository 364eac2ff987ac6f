"""The reuse cache, pair batching and the in-memory random model, on the tiny model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from egobench.config import load_preset
from egobench.methods.ego import EgoEdit
from egobench.methods.ego.reuse_cache import ReuseCache, tensor_digest
from egobench.models.stable_diffusion import load_stable_diffusion
from egobench.models.tiny import build_random_sd
from tests.helpers import dreamedit_layout, loaded_pair, object_photo
from tests.test_run_cli import FAST, results, run_cli

# t = 650 runs text energy only; 550 and 500 add image energy, and 550 also composes.
SCHEDULE = ["ego.steps=3", "ego.schedule.t_max=650", "ego.schedule.t_min=500"]


@pytest.fixture(scope="module")
def tiny_sd():
    return load_stable_diffusion("tiny")


def make_ego(sd, *overrides: str) -> EgoEdit:
    return EgoEdit(load_preset("ego", [*SCHEDULE, *overrides]), model="tiny", sd=sd)


def make_cached_ego(sd, *overrides: str) -> EgoEdit:
    return make_ego(sd, "ego.runtime.reuse_cache_mib=64", *overrides)


def test_cache_evicts_least_recently_used_within_bound():
    cache = ReuseCache(max_bytes=3 * 400)
    tensors = {key: torch.full((100,), float(index)) for index, key in enumerate("abcd")}
    for key in "abc":
        cache.put(key, tensors[key])
    assert cache.get("a") is not None
    cache.put("d", tensors["d"])
    assert cache.get("b") is None
    assert [key for key in "acd" if cache.get(key) is not None] == ["a", "c", "d"]
    assert cache.bytes == 3 * 400
    assert len(cache) == 3


def test_cache_skips_entries_larger_than_bound():
    cache = ReuseCache(max_bytes=100)
    cache.put("big", torch.zeros(100))
    assert cache.get("big") is None
    assert cache.bytes == 0


def test_cache_returns_identical_copy():
    cache = ReuseCache(max_bytes=10_000)
    stored = torch.randn(4, 8)
    cache.put("key", stored)
    expected = stored.clone()
    stored.add_(1.0)
    assert torch.equal(cache.get("key"), expected)


def test_tensor_digest_tells_dtype_shape_and_values_apart():
    base = torch.arange(6, dtype=torch.float32)
    assert tensor_digest(base) == tensor_digest(base.clone())
    assert tensor_digest(base) != tensor_digest(base.double())
    assert tensor_digest(base) != tensor_digest(base.view(2, 3))
    changed = base.clone()
    changed[3] = 3.5
    assert tensor_digest(base) != tensor_digest(changed)
    assert tensor_digest(base.bfloat16()) != tensor_digest(changed.bfloat16())


def test_reused_results_match_fresh_results(tiny_sd):
    pair = loaded_pair()
    ablation = make_cached_ego(tiny_sd, "ego.content_composition.enabled=false")
    ablation.cache.clear()
    fresh = ablation.optimise(pair, seed=0)

    ablation.cache.clear()
    make_cached_ego(tiny_sd).optimise(pair, seed=0)
    hits = ablation.cache.hits
    reused = ablation.optimise(pair, seed=0)

    # Three iterations reuse the source predictions, the two with image energy the reference features.
    assert ablation.cache.hits - hits == 3 + 2
    assert torch.allclose(reused, fresh, atol=1e-4)
    assert torch.equal(ablation.optimise(pair, seed=0), reused)


def test_cache_keys_separate_images_and_seeds(tiny_sd):
    pair = loaded_pair()
    other_reference = loaded_pair()
    other_reference.reference = object_photo(128, (40, 200, 40), (0.2, 0.2, 0.6, 0.6), seed=9)
    method = make_cached_ego(tiny_sd)
    method.cache.clear()
    method.optimise(pair, seed=0)

    hits = method.cache.hits
    method.optimise(pair, seed=1)
    assert method.cache.hits == hits

    method.optimise(other_reference, seed=0)
    # Only the source predictions (one entry per iteration) match; the reference features do not.
    assert method.cache.hits - hits == 3


def test_cache_on_gives_same_result(tiny_sd):
    pair = loaded_pair()
    uncached = make_ego(tiny_sd)
    assert uncached.cache is None
    cached = make_cached_ego(tiny_sd)
    cached.cache.clear()
    assert torch.equal(cached.optimise(pair, seed=0), uncached.optimise(pair, seed=0))


@pytest.mark.parametrize("share_prefix", [True, False])
def test_batched_pairs_equal_single_runs(tiny_sd, share_prefix):
    first = loaded_pair(pair_id="first")
    second = loaded_pair(pair_id="second")
    second.source = object_photo(128, (40, 160, 90), (0.3, 0.2, 0.8, 0.7), seed=5)
    method = make_ego(tiny_sd, f"ego.runtime.share_prefix={str(share_prefix).lower()}")

    alone, alone_traces = [], []
    for pair in (first, second):
        alone.append(method.optimise(pair, seed=3))
        alone_traces.append(list(method.trace))
    together = method.optimise_batch([first, second], seed=3)

    for single, batched in zip(alone, together):
        assert torch.allclose(single, batched, atol=1e-4)
    assert not torch.allclose(together[0], together[1], atol=1e-2)
    for single_trace, batched_trace in zip(alone_traces, method.traces):
        assert [(r.timestep, r.composed) for r in single_trace] == [(r.timestep, r.composed) for r in batched_trace]
        assert [r.image_energy for r in single_trace] == pytest.approx([r.image_energy for r in batched_trace], rel=1e-3)


def test_failed_batch_is_retried_pair_by_pair(tiny_sd, monkeypatch):
    good, bad = loaded_pair(pair_id="good"), loaded_pair(pair_id="bad")
    method = make_ego(tiny_sd, "ego.steps=1")
    optimise_batch = method.optimise_batch

    def fail_with_bad(pairs, seed):
        if any(pair.pair.pair_id == "bad" for pair in pairs):
            raise FloatingPointError("the latent of bad became non-finite")
        return optimise_batch(pairs, seed)

    monkeypatch.setattr(method, "optimise_batch", fail_with_bad)
    edited, error = method.edit_batch([good, bad], seed=0)
    assert isinstance(edited, Image.Image)
    assert isinstance(error, FloatingPointError)
    assert "good" in method.pair_traces


def test_run_with_pairs_per_batch_matches_unbatched(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 3})
    common = ["--model", "tiny", "--data-root", str(data_root), "--subjects", str(subjects), "--device", "cpu", *FAST]
    assert run_cli("run", *common, "--out", str(tmp_path / "single")).exit_code == 0
    batched = run_cli("run", *common, "--out", str(tmp_path / "batched"), "--pairs-per-batch", "2")
    assert batched.exit_code == 0, batched.output

    rows = results(tmp_path / "batched")
    assert {row["status"] for row in rows.values()} == {"done"}
    for pair_id in rows:
        single = np.asarray(Image.open(tmp_path / "single" / "pairs" / pair_id / "edited.png"), dtype=int)
        together = np.asarray(Image.open(tmp_path / "batched" / "pairs" / pair_id / "edited.png"), dtype=int)
        assert np.abs(single - together).max() <= 1
        assert (tmp_path / "batched" / "pairs" / pair_id / "trace.csv").is_file()


def test_batched_run_charges_failure_to_its_pair(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 3})
    (data_root / "replacement_source" / "dog" / "found1.jpg").write_bytes(b"not a jpeg")
    result = run_cli(
        "run", "--model", "tiny", "--data-root", str(data_root), "--subjects", str(subjects), "--out", str(tmp_path / "run"),
        "--device", "cpu", "--pairs-per-batch", "3", *FAST,
    )
    assert result.exit_code == 1
    statuses = {pair_id: row["status"] for pair_id, row in results(tmp_path / "run").items()}
    # found1.jpg is the source of one pair and the reference of another; only those two fail.
    for pair_id, status in statuses.items():
        assert status == ("failed" if "found1" in pair_id else "done"), pair_id
    assert "done" in statuses.values()


def test_in_memory_random_model_equals_saved_one(tmp_path, monkeypatch):
    monkeypatch.setenv("EGOBENCH_CACHE", str(tmp_path / "cache"))
    in_memory = load_stable_diffusion("tiny", save_random=False)
    assert not (tmp_path / "cache").exists()
    saved = load_stable_diffusion(str(build_random_sd("tiny", tmp_path / "saved")))
    for built, loaded in [(in_memory.unet, saved.unet), (in_memory.vae, saved.vae), (in_memory.text_encoder, saved.text_encoder)]:
        for (name, tensor), (_, other) in zip(built.state_dict().items(), loaded.state_dict().items()):
            assert torch.equal(tensor, other), name
