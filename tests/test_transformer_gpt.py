"""The GPT: causality, the two attention paths, the KV cache, learning, and its Lightning wiring."""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from litlab.common.callbacks import AttentionMapCallback
from litlab.common.cli import run as litlab
from litlab.common.generate import main as generate
from litlab.sequence.lm.data import ShakespeareDataModule
from litlab.transformer.attention import KVCache, MultiHeadAttention
from litlab.transformer.models import GPT, GPTConfig
from litlab.transformer.module import GPTLanguageModel

REPO = Path(__file__).resolve().parents[1]
POSITIONS = ["learned", "sinusoidal", "rope"]


def tiny_gpt(pos: str = "learned", block: int = 16, dropout: float = 0.0) -> GPT:
    torch.manual_seed(0)
    cfg = GPTConfig(
        vocab_size=23, block_size=block, n_layer=2, n_head=4, n_embd=32, dropout=dropout,
        pos_encoding=pos,
    )  # fmt: skip
    return GPT(cfg).eval()


@pytest.mark.parametrize("pos", POSITIONS)
def test_changing_future_tokens_never_changes_earlier_logits(pos: str):
    net = tiny_gpt(pos)
    ids = torch.randint(23, (3, 12))
    changed = ids.clone()
    changed[:, 7:] = torch.randint(23, (3, 5))
    with torch.no_grad():
        a, b = net(ids), net(changed)
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-6)
    assert not torch.allclose(a[:, 7:], b[:, 7:])  # the test can tell a difference


@pytest.mark.parametrize("pos", POSITIONS)
def test_explicit_and_fused_attention_give_the_same_logits(pos: str):
    net = tiny_gpt(pos)
    ids = torch.randint(23, (2, 16))
    with torch.no_grad():
        fused = net(ids)
        explicit, maps = net(ids, need_weights=True)
    assert torch.allclose(fused, explicit, atol=1e-5)
    assert set(maps) == {"layer0", "layer1"}


def test_attention_rows_sum_to_one_and_nothing_looks_ahead():
    net = tiny_gpt()
    with torch.no_grad():
        maps = net.attention_maps(torch.randint(23, (2, 10)))
    for w in maps.values():
        assert w.shape == (2, 4, 10, 10)
        assert torch.allclose(w.sum(-1), torch.ones(2, 4, 10), atol=1e-5)
        assert torch.all(w.triu(diagonal=1) == 0)


def test_attention_ignores_padded_keys_and_masks_combine():
    torch.manual_seed(0)
    attn = MultiHeadAttention(16, 2, causal=True).eval()
    x = torch.randn(2, 6, 16)
    keep = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    _, w = attn(x, key_mask=keep, need_weights=True)
    assert torch.all(w[1, :, :, 4:] == 0) and torch.all(w.triu(diagonal=1) == 0)
    fused, _ = attn(x, key_mask=keep)
    explicit, _ = attn(x, key_mask=keep, need_weights=True)
    assert torch.allclose(fused, explicit, atol=1e-5)


@pytest.mark.parametrize("pos", POSITIONS)
def test_feeding_tokens_one_by_one_through_the_cache_equals_one_full_pass(pos: str):
    net = tiny_gpt(pos)
    ids = torch.randint(23, (2, 12))
    caches = [KVCache() for _ in net.blocks]
    with torch.no_grad():
        full = net(ids)
        steps = [net(ids[:, :5], caches)] + [net(ids[:, t : t + 1], caches) for t in range(5, 12)]
    assert caches[0].length == 12
    assert torch.allclose(full, torch.cat(steps, dim=1), atol=1e-5)


@pytest.mark.parametrize("pos", POSITIONS)
def test_greedy_generation_with_the_cache_equals_without_token_for_token(pos: str):
    net = tiny_gpt(pos, block=32)
    prompt = torch.randint(23, (3, 4))
    cached = net.generate(prompt, 28, temperature=0.0)  # fills the block exactly
    naive = net.generate(prompt, 28, temperature=0.0, use_cache=False)
    assert cached.shape == (3, 32) and torch.equal(cached, naive)


def test_generation_goes_past_the_block_size_without_exceeding_positions():
    net = tiny_gpt(block=8)
    out = net.generate(torch.randint(23, (1, 12)), 30, temperature=1.0, top_k=5)
    assert out.shape == (1, 42)
    with pytest.raises(ValueError, match="block size"):
        net(torch.randint(23, (1, 9)))


def test_weights_are_tied_and_residual_projections_are_scaled_down():
    net = GPT(GPTConfig(n_layer=8, n_embd=64, n_head=4))
    assert net.head.weight is net.tok_emb.weight
    block = net.blocks[0]
    for scaled in (block.attn.proj.weight, block.mlp.proj.weight):
        assert scaled.std().item() == pytest.approx(0.02 / 4, rel=0.1)
    for plain in (block.attn.in_proj.weight, block.mlp.fc.weight):
        assert plain.std().item() == pytest.approx(0.02, rel=0.1)


def test_the_gpt_overfits_one_batch(tiny_root: Path):
    torch.manual_seed(0)
    dm = ShakespeareDataModule(root=str(tiny_root), block_size=32, batch_size=4)
    x, y = next(iter(dm.train_dataloader()))
    cfg = GPTConfig(vocab_size=dm.tokenizer.vocab_size, block_size=32, n_layer=2, n_head=2,
                    n_embd=32, dropout=0.0)  # fmt: skip
    model = GPTLanguageModel(GPT(cfg))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    start = model.loss(x, y).item()
    for _ in range(150):
        loss = model.loss(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert model.loss(x, y).item() < 0.1 * start


def test_compile_option_keeps_the_checkpoint_keys_of_the_plain_net():
    model = GPTLanguageModel(tiny_gpt(), compile=True)
    model.configure_model()
    assert model._compiled is not None
    assert all(k.startswith("net.") or k == "vocab_limit" for k in model.state_dict())


def test_fit_draws_attention_maps_for_every_layer(tiny_root: Path, in_tmp: Path):
    dm = ShakespeareDataModule(
        root=str(tiny_root), block_size=16, batch_size=4, steps_per_epoch=3, val_batches=1
    )
    dm.setup()  # the tokenizer is read from the data here; the property never reads
    cfg = GPTConfig(vocab_size=dm.tokenizer.vocab_size, block_size=16, n_layer=2, n_head=2,
                    n_embd=16, dropout=0.0)  # fmt: skip
    logger = L.pytorch.loggers.TensorBoardLogger(in_tmp, name="gpt")
    trainer = L.Trainer(
        max_epochs=1, logger=logger, callbacks=[AttentionMapCallback(max_tokens=12)],
        enable_checkpointing=False, enable_progress_bar=False,
    )  # fmt: skip
    trainer.fit(GPTLanguageModel(GPT(cfg)), datamodule=dm)
    events = EventAccumulator(logger.log_dir)
    events.Reload()
    assert {"val/attention/layer0", "val/attention/layer1"} <= set(events.Tags()["images"])


@pytest.fixture(scope="module")
def gpt_checkpoint(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """best.ckpt of a few steps of the CPU-recipe GPT on the tiny text."""
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("gpt"))
    try:
        litlab(
            [
                "fit",
                "--config",
                str(REPO / "experiments" / "transformer" / "shakespeare_char_gpt_cpu.yaml"),
                f"--data.root={tiny_root}",
                "--data.init_args.steps_per_epoch=3",
                "--data.init_args.val_batches=1",
                "--trainer.max_steps=3",
                "--trainer.enable_progress_bar=false",
            ]
        )
        ckpts = Path.cwd().glob("logs/transformer/shakespeare_char_gpt_cpu/*/checkpoints/best.ckpt")
        return next(ckpts)
    finally:
        os.chdir(cwd)


def test_litlab_generate_continues_a_prompt_with_a_gpt_checkpoint(gpt_checkpoint: Path, capsys):
    args = ["--ckpt", str(gpt_checkpoint), "--prompt", "ROMEO:", "--max-new-tokens", "100"]
    assert generate(args + ["--seed", "3"]) == 0
    text = capsys.readouterr().out
    # 100 new tokens: more than the 64-token block, so the cache is re-filled on the way
    assert text.startswith("ROMEO:") and len(text.rstrip("\n")) >= len("ROMEO:") + 90
    assert generate(args + ["--seed", "3"]) == 0
    assert capsys.readouterr().out == text


def test_checkpoints_with_separate_query_and_key_value_matrices_still_load():
    """Checkpoints written before the one ``in_proj`` matrix (e.g. the chat model) load as
    the same function: ``query`` and ``key_value`` are stacked into ``in_proj``."""
    torch.manual_seed(0)
    attn = MultiHeadAttention(16, 4, bias=True, causal=True)
    w, b = attn.in_proj.weight.detach(), attn.in_proj.bias.detach()
    legacy = {f"proj.{k}": v for k, v in attn.proj.state_dict().items()}
    legacy |= {"query.weight": w[:16], "key_value.weight": w[16:]}
    legacy |= {"query.bias": b[:16], "key_value.bias": b[16:]}
    fresh = MultiHeadAttention(16, 4, bias=True, causal=True)
    fresh.load_state_dict(legacy, strict=True)
    x = torch.randn(2, 5, 16)
    assert torch.equal(fresh(x)[0], attn(x)[0])
