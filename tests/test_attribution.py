"""The explanations are right, not just the right shape: Grad-CAM, integrated gradients,
attention maps; and they leave the model as they found it."""

from __future__ import annotations

import gc

import pytest
import torch
from torch import nn
from toy_text import VOCAB, ToyAttentionClassifier, ToyRNNClassifier, ToyTextDataModule

from litlab.common.attribution import evaluating, grad_cam, integrated_gradients
from litlab.common.protocols import TokenBatch
from litlab.sequence.sentiment.models import BiRNNClassifier
from litlab.sequence.sentiment.module import TextClassifier
from litlab.transformer.classifier import TransformerClassifier
from litlab.transformer.models import GPT, GPTConfig
from litlab.transformer.module import GPTLanguageModel

SIZE = 24


def bar_images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Noise images holding one 5-pixel bar at a random place: horizontal (class 0) or
    vertical (class 1). Returns images (n, 1, 24, 24), labels, and each bar's centre (n, 2)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, SIZE, SIZE, generator=g) * 0.3
    y = torch.randint(0, 2, (n,), generator=g)
    centre = torch.randint(3, SIZE - 3, (n, 2), generator=g)
    for i in range(n):
        r, c = centre[i].tolist()
        if y[i] == 0:
            x[i, 0, r, c - 2 : c + 3] = 1.0
        else:
            x[i, 0, r - 2 : r + 3, c] = 1.0
    return x, y, centre


def tiny_cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),  # index 4: the Grad-CAM layer, 12x12
        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(16, 2),
    )


def trained_cnn() -> nn.Sequential:
    torch.manual_seed(0)
    model = tiny_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(150):
        x, y, _ = bar_images(64, seed=step)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def test_grad_cam_peaks_where_the_class_evidence_is():
    model = trained_cnn().eval()
    x, y, centre = bar_images(200, seed=10_000)
    assert (model(x).argmax(1) == y).float().mean() > 0.95  # it learned the task
    cam = grad_cam(model, model[4], x, y)  # (200, 24, 24) for the true class
    assert cam.shape == (200, SIZE, SIZE) and cam.min() >= 0 and cam.max() <= 1
    peak = cam.flatten(1).argmax(1)
    rows, cols = peak // SIZE, peak % SIZE
    # the bar spans +-2 pixels around its centre; the upsampled 12x12 map is 2 pixels coarse
    near = ((rows - centre[:, 0]).abs() <= 3) & ((cols - centre[:, 1]).abs() <= 3)
    assert near.float().mean() >= 0.9, near.float().mean()
    # and the map is brighter there than elsewhere: for the vertical class by ~50x, for the
    # horizontal one (the model's "no vertical bar" default) by ~2x, never reversed
    inside = torch.zeros_like(cam, dtype=torch.bool)
    for i, (r, c) in enumerate(centre.tolist()):
        inside[i, max(r - 3, 0) : r + 4, max(c - 3, 0) : c + 4] = True
    mean_in = (cam * inside).flatten(1).sum(1) / inside.flatten(1).sum(1)
    mean_out = (cam * ~inside).flatten(1).sum(1) / (~inside).flatten(1).sum(1)
    assert (mean_in > 1.5 * mean_out).float().mean() >= 0.95


def _hooks(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        + len(getattr(m, "_backward_pre_hooks", {}))
        for m in model.modules()
    )


def _live_tensors() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) in (torch.Tensor, nn.Parameter))


def test_grad_cam_releases_hooks_memory_and_restores_modes():
    model = tiny_cnn()
    model.train()
    model[0].eval()  # a frozen part (as in staged fine-tuning) must stay frozen
    flags = [m.training for m in model.modules()]
    x, y, _ = bar_images(8, seed=1)
    with torch.inference_mode():  # as inside Lightning's validation loop
        x = x.clone()
        for i in range(50):
            with evaluating(model):
                grad_cam(model, model[4], x, y)
            if i == 4:
                baseline = _live_tensors()
    assert _hooks(model) == 0
    assert [m.training for m in model.modules()] == flags
    assert all(p.grad is None for p in model.parameters())  # the optimizer's grads untouched
    assert _live_tensors() <= baseline + 2


@pytest.mark.parametrize("model_class", [ToyRNNClassifier, ToyAttentionClassifier])
def test_integrated_gradients_completeness(model_class):
    """For a BiLSTM (cuDNN-style recurrent) and a self-attention encoder."""
    torch.manual_seed(0)
    model = model_class()
    dm = ToyTextDataModule()
    (ids, lengths), _ = dm.probe_batch(6)
    model.train()
    att = integrated_gradients(model, model.embed, ids, lengths, dm.pad_id, n_steps=64)
    assert model.training  # restored
    with torch.no_grad(), evaluating(model):
        rows = torch.arange(len(ids))
        fx = model(ids, lengths)[rows, att.target]
        fb = model(torch.zeros_like(ids), lengths)[rows, att.target]  # the all-padding baseline
    total = att.scores.sum(dim=1)
    # completeness: attributions add up to F(x) - F(baseline), up to the reported delta ...
    torch.testing.assert_close(total - (fx - fb), att.delta, atol=1e-4, rtol=0)
    # ... and that delta is small: the path integral converged
    assert (att.delta.abs() <= 0.05 * (fx - fb).abs() + 1e-3).all(), (att.delta, fx - fb)
    assert (att.scores[torch.arange(ids.shape[1])[None] >= lengths[:, None]] == 0).all()


def _assert_distributions(w: torch.Tensor, lengths: torch.Tensor, heads: int, causal: bool):
    """(B, heads, T, T) maps: each real query's row sums to 1 over the real keys, padded keys
    get nothing, and the upper triangle is empty exactly when the model is causal."""
    assert w.shape[:2] == (len(lengths), heads)
    for i, n in enumerate(lengths.tolist()):
        real = w[i, :, :n, :n]
        torch.testing.assert_close(real.sum(-1), torch.ones(heads, n))
        assert (w[i, :, :, n:] == 0).all()  # padded keys get nothing
        above = real.triu(1)
        assert (above == 0).all() if causal else (above > 0).any()


def litlab_text_models() -> dict[str, tuple[nn.Module, int, bool]]:
    """litlab's own models with attention maps: name -> (module, heads, causal)."""
    torch.manual_seed(0)
    v = len(VOCAB)
    encoder = TransformerClassifier(v, 2, d_model=16, n_heads=2, n_layers=2, dropout=0.0)
    gpt = GPT(GPTConfig(vocab_size=v, block_size=32, n_layer=2, n_head=2, n_embd=16, dropout=0.0))
    return {
        "transformer classifier": (TextClassifier(encoder).eval(), 2, False),
        "gpt": (GPTLanguageModel(gpt).eval(), 2, True),
    }


def test_attention_maps_are_distributions_and_causal():
    torch.manual_seed(0)
    dm = ToyTextDataModule()
    batch, _ = dm.probe_batch(5)
    assert len(set(batch.lengths.tolist())) > 1  # the batch has padding to ignore
    for causal in (False, True):
        w = ToyAttentionClassifier(causal=causal).attention_maps(batch)["layer0"]
        _assert_distributions(w, batch.lengths, 2, causal)
    pool = ToyRNNClassifier().attention_maps(batch)["pool"]  # (B, 1, 1, T)
    torch.testing.assert_close(pool.sum(-1), torch.ones(5, 1, 1))
    # and litlab's own models, through the same protocol
    for name, (model, heads, causal) in litlab_text_models().items():
        # a language model reads whole windows (no padding): every row is full length
        lengths = torch.full_like(batch.lengths, batch.ids.shape[1]) if causal else batch.lengths
        with torch.no_grad():
            maps = model.attention_maps(TokenBatch(batch.ids, lengths))
        assert list(maps) == ["layer0", "layer1"], name
        for w in maps.values():
            _assert_distributions(w, lengths, heads, causal)
    bilstm = TextClassifier(BiRNNClassifier(len(VOCAB), 2, 8, 8)).eval()
    with torch.no_grad():
        pool = bilstm.attention_maps(batch)["pool"]  # (B, 1, 1, T)
    assert pool.shape == (5, 1, 1, batch.ids.shape[1])
    for i, n in enumerate(batch.lengths.tolist()):  # one distribution over the real tokens
        torch.testing.assert_close(pool[i, 0, 0, :n].sum(), torch.tensor(1.0))
        assert (pool[i, 0, 0, :n] > 0).all() and (pool[i, ..., n:] == 0).all()
