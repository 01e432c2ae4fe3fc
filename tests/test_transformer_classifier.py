"""Transformer text classifier: padding-free outputs, masks from lengths, the two attention
paths, attention maps, learning, and its maps and attributions in a real fit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from litlab.common.cli import run as litlab
from litlab.common.protocols import TokenBatch
from litlab.sequence.sentiment.module import TextClassifier
from litlab.transformer.classifier import TransformerClassifier

pytestmark = pytest.mark.usefixtures("one_thread")  # small matrices, shared CPU


def small_net(seed: int = 0, **kwargs) -> TransformerClassifier:
    torch.manual_seed(seed)
    sizes = dict(d_model=32, n_heads=4, n_layers=2, dropout=0.0, max_len=32)
    return TransformerClassifier(60, 2, **{**sizes, **kwargs}).eval()


def padded_batch() -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.randint(2, 60, (3, 10), generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([10, 4, 7])
    ids[1, 4:] = ids[2, 7:] = 0
    return ids, lengths


@pytest.mark.parametrize("pooling", ["mean", "cls"])
@pytest.mark.parametrize("pos_encoding", ["sinusoidal", "learned", "rope"])
def test_padding_never_changes_the_logits(pooling, pos_encoding):
    net = small_net(pooling=pooling, pos_encoding=pos_encoding)
    ids, lengths = padded_batch()
    batch = net(ids, lengths)
    alone = torch.cat(
        [net(ids[i : i + 1, :n], lengths[i : i + 1]) for i, n in enumerate([10, 4, 7])]
    )
    more_padding = net(F.pad(ids, (0, 5)), lengths)
    torch.testing.assert_close(batch, alone)
    torch.testing.assert_close(batch, more_padding)


def test_masks_come_from_lengths_not_ids():
    net = small_net()
    all_padding = torch.zeros(2, 6, dtype=torch.long)  # integrated gradients' baseline
    maps = net.attention_maps(all_padding, torch.tensor([6, 3]))
    w = maps["layer0"][1]  # (heads, T, T) of the text of length 3
    torch.testing.assert_close(w[:, :3].sum(dim=-1), torch.ones(4, 3))
    assert (w[:, :, 3:] == 0).all() and (w[:, 3:] == 0).all() and (w[:, :3, :3] > 0).all()


def test_explicit_and_fused_attention_give_the_same_logits():
    net = small_net()
    ids, lengths = padded_batch()
    h, mask, maps = net.encode(ids, lengths, need_weights=True)  # the explicit path
    explicit = net.head(net.pool(h, mask))
    torch.testing.assert_close(explicit, net(ids, lengths), atol=1e-5, rtol=1e-5)
    assert len(maps) == 2


def test_attention_maps_are_one_distribution_per_token_per_head_and_layer():
    net = small_net()
    ids, lengths = padded_batch()
    maps = TextClassifier(net).attention_maps(TokenBatch(ids, lengths))
    assert list(maps) == ["layer0", "layer1"]
    for w in maps.values():
        assert w.shape == (3, 4, 10, 10)  # (B, heads, T_query, T_key)
        sums = w.sum(dim=-1)  # (B, heads, T)
        for i, n in enumerate(lengths.tolist()):
            torch.testing.assert_close(sums[i, :, :n], torch.ones(4, n))
            assert (w[i, :, n:] == 0).all() and (w[i, :, :, n:] == 0).all()


def test_cls_pooling_maps_cover_the_text_tokens_and_what_cls_read():
    net = small_net(pooling="cls")
    ids, lengths = padded_batch()
    maps = net.attention_maps(ids, lengths)
    assert maps["layer0"].shape == (3, 4, 10, 10) and maps["cls"].shape == (3, 4, 1, 10)
    assert (maps["cls"][1, :, :, 4:] == 0).all()
    text_share = maps["layer1"].sum(dim=-1)[0]  # what did not go to [CLS]
    assert ((text_share > 0) & (text_share < 1)).all()


def test_the_transformer_overfits_a_small_batch():
    net = small_net().train()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(2, 60, (16, 12), generator=g)
    lengths = torch.randint(4, 13, (16,), generator=g)
    ids[torch.arange(12)[None, :] >= lengths[:, None]] = 0
    labels = torch.randint(0, 2, (16,), generator=g)  # random: only memorising fits them
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = F.cross_entropy(net(ids, lengths), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0], f"loss {losses[0]:.2f} -> {losses[-1]:.3f}"


@pytest.mark.parametrize("name", ["imdb", "nsmc"])
def test_attention_maps_and_attributions_land_in_tensorboard(name, tiny_root: Path, in_tmp):
    config = REPO / "experiments" / "transformer" / f"{name}_transformer.yaml"
    litlab(
        [
            "fit", "--config", str(config), f"--data.root={tiny_root}",
            "--data.init_args.batch_size=8", "--data.init_args.vocab_size=400",
            "--model.init_args.net.init_args.d_model=32", "--trainer.max_epochs=1",
            "--trainer.enable_progress_bar=false",
        ]
    )  # fmt: skip
    events = EventAccumulator(
        str(in_tmp / "logs" / "transformer" / f"{name}_transformer" / "version_0"),
        size_guidance={"images": 0},
    )
    events.Reload()
    images = set(events.Tags()["images"])
    for layer in ("layer0", "layer1"):
        assert {f"val/attention/{layer}/0", f"val/attention/{layer}/1"} <= images
    assert "val/token_attributions/0" in images and "val/confusion_matrix" in images
