"""Transformer encoder-decoder: masks, causality, cached and beam decoding, the two attention
paths, cross-attention maps, and learning."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from litlab.sequence.seq2seq.data import DateDataModule
from litlab.sequence.seq2seq.module import Seq2SeqModule
from litlab.transformer.encoder_decoder import Seq2SeqTransformer

pytestmark = pytest.mark.usefixtures("one_thread")  # small matrices, shared CPU


@pytest.fixture(scope="module")
def dm() -> DateDataModule:
    data = DateDataModule(n_train=256, n_val=64, n_test=64, batch_size=32)
    data.setup()
    return data


def small_net(dm: DateDataModule, seed: int = 0, **kwargs) -> Seq2SeqTransformer:
    torch.manual_seed(seed)
    sizes = dict(d_model=32, n_heads=4, n_encoder_layers=2, n_decoder_layers=2, dropout=0.0)
    return Seq2SeqTransformer(dm.vocab_size, dm.pad_id, **{**sizes, **kwargs}).eval()


@pytest.fixture(scope="module")
def trained(dm: DateDataModule) -> tuple[Seq2SeqTransformer, list[float]]:
    """A small net after 120 steps on the 256 training pairs, and its losses. Decoding tests
    use it: an untrained net repeats ``<s>`` (its tied embedding favours the input token), and
    outputs that are all alike would hide a mistake in the beams' bookkeeping."""
    net = small_net(dm).train()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    losses = []
    for step in range(120):
        if step % len(dm.train_dataloader()) == 0:
            batches = iter(dm.train_dataloader())
        inputs, target = next(batches)
        logits = net(*inputs, target[:, :-1])
        loss = F.cross_entropy(logits.transpose(1, 2), target[:, 1:], ignore_index=dm.pad_id)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return net.eval(), losses


def until_eos(outputs: torch.Tensor, eos: int) -> torch.Tensor:
    """(B, T) True at the output steps up to and with the first ``eos``."""
    return F.pad(outputs == eos, (1, 0))[:, :-1].cumsum(dim=1) == 0


def teacher_batch(dm: DateDataModule, n: int = 8):
    inputs, target = dm.probe_batch(n)
    return inputs, target[:, :-1]


@pytest.mark.parametrize("pos_encoding", ["sinusoidal", "learned", "rope"])
def test_extra_source_padding_never_changes_the_logits(dm, pos_encoding):
    net = small_net(dm, pos_encoding=pos_encoding)
    (ids, lengths), target_in = teacher_batch(dm)
    assert int(lengths.min()) < ids.shape[1]  # the batch itself already holds padding
    padded = F.pad(ids, (0, 7), value=dm.pad_id)
    torch.testing.assert_close(net(padded, lengths, target_in), net(ids, lengths, target_in))
    alone = net(ids[:1, : int(lengths[0])], lengths[:1], target_in[:1])
    torch.testing.assert_close(alone, net(ids, lengths, target_in)[:1])


def test_the_decoder_is_causal(dm):
    net = small_net(dm)
    inputs, target_in = teacher_batch(dm)
    changed = target_in.clone()
    changed[:, 6] = (changed[:, 6] + 1) % dm.vocab_size
    before, after = net(*inputs, target_in), net(*inputs, changed)
    torch.testing.assert_close(after[:, :6], before[:, :6])  # the past never sees the future
    assert not torch.allclose(after[:, 6:], before[:, 6:])  # but the change does reach on


def test_explicit_and_fused_attention_give_the_same_logits(dm):
    net = small_net(dm)
    inputs, target_in = teacher_batch(dm)
    memory, mask, self_maps = net.encode(*inputs, need_weights=True)
    explicit, cross = net.decode(target_in, memory, mask, need_weights=True)
    torch.testing.assert_close(explicit, net(*inputs, target_in), atol=1e-5, rtol=1e-5)
    assert len(self_maps) == len(cross) == 2 and cross[0].shape[1] == 4  # layers, heads


def test_cached_greedy_decoding_matches_the_full_teacher_forced_pass(dm, trained):
    net, _ = trained
    inputs, _ = dm.probe_batch(8)
    outputs, _ = net.greedy(*inputs, dm.bos_id, dm.eos_id, max_len=12)
    target_in = torch.cat([torch.full_like(outputs[:, :1], dm.bos_id), outputs[:, :-1]], dim=1)
    full = net(*inputs, target_in).argmax(dim=-1)  # (B, T): no cache, every step at once
    live = until_eos(outputs, dm.eos_id)
    assert torch.equal(full[live], outputs[live])


@pytest.mark.parametrize("split", ["val", "test"])
def test_beam_search_with_beam_one_equals_greedy(dm, trained, split):
    net, _ = trained
    inputs, _ = dm.probe_batch(16, split)
    greedy, _ = net.greedy(*inputs, dm.bos_id, dm.eos_id, max_len=12)
    beam = net.beam_search(*inputs, dm.bos_id, dm.eos_id, max_len=12, beam=1)
    assert torch.equal(greedy, beam)
    assert (greedy == dm.eos_id).any(dim=1).all()  # real outputs, not one token repeated


def _score(net: Seq2SeqTransformer, ids, lengths, outputs, bos: int, eos: int):
    """Log-probability (N,) of each output (N, T) up to and with its first eos, no cache."""
    target_in = torch.cat([torch.full_like(outputs[:, :1], bos), outputs[:, :-1]], dim=1)
    logp = F.log_softmax(net(ids, lengths, target_in), dim=-1)
    picked = logp.gather(-1, outputs[..., None])[..., 0]
    return picked.masked_fill(~until_eos(outputs, eos), 0.0).sum(dim=1)


def test_an_unpruned_beam_finds_the_most_probable_output():
    """A 6-token vocabulary, 4 steps, beam = 6^3: nothing is pruned, so beam search must return
    the best of all 6^4 outputs, found by brute force - here better than greedy's."""
    v, bos, eos, steps, b = 6, 1, 2, 4, 4
    torch.manual_seed(0)
    net = Seq2SeqTransformer(v, pad_id=0, d_model=32, n_encoder_layers=1, n_decoder_layers=2)
    net.eval()
    ids, lengths = torch.randint(3, v, (b, 5)), torch.tensor([5, 3, 4, 2])
    every = torch.cartesian_prod(*[torch.arange(v)] * steps)  # (V^4, 4): all outputs
    best = torch.stack(
        [_score(net, ids[i : i + 1].expand(len(every), -1), lengths[i : i + 1].expand(len(every)),
                every, bos, eos).max() for i in range(b)]
    )  # fmt: skip
    beam = net.beam_search(ids, lengths, bos, eos, max_len=steps, beam=v**3)
    torch.testing.assert_close(_score(net, ids, lengths, beam, bos, eos), best)
    greedy, _ = net.greedy(ids, lengths, bos, eos, max_len=steps)
    assert (_score(net, ids, lengths, greedy, bos, eos) < best - 1e-3).any()


def reference_beam_search(net, ids, lengths, bos: int, eos: int, max_len: int, beam: int):
    """Beam search written plainly: a list of beams per input, each prefix re-run in full."""
    outputs = []
    for i in range(len(ids)):
        src, n = ids[i : i + 1], lengths[i : i + 1]
        beams = [(0.0, [], False)]  # (log-probability, tokens, finished)
        for _ in range(max_len):
            candidates = []
            for score, tokens, done in beams:
                if done:  # grows by padding at no cost
                    candidates.append((score, [*tokens, net.pad_id], True))
                    continue
                target_in = torch.tensor([[bos, *tokens]])
                logp = F.log_softmax(net(src, n, target_in)[0, -1], dim=-1).tolist()
                candidates += [(score + p, [*tokens, t], t == eos) for t, p in enumerate(logp)]
            beams = sorted(candidates, key=lambda c: -c[0])[:beam]
        outputs.append(beams[0][1])
    return torch.tensor(outputs)


def test_cached_beam_search_equals_a_plain_one_that_rereads_every_prefix(dm, trained):
    """Beams change places at every step; each must take its own keys/values along, or it
    would continue another beam's prefix."""
    net = copy.deepcopy(trained[0])
    net.ln_f.weight.data *= 0.1  # flatter outputs: more beams stay in play, more re-ranking
    inputs, _ = dm.probe_batch(8)
    beam = net.beam_search(*inputs, dm.bos_id, dm.eos_id, max_len=12, beam=3)
    reference = reference_beam_search(net, *inputs, dm.bos_id, dm.eos_id, max_len=12, beam=3)
    assert torch.equal(beam, reference)


def test_cross_attention_rows_sum_to_one_and_skip_the_source_padding(dm, trained):
    model = Seq2SeqModule(trained[0], max_output_len=12)
    model.specials = torch.tensor([dm.pad_id, dm.bos_id, dm.eos_id])
    inputs, _ = dm.probe_batch(8)
    outputs, weights = model.alignments(inputs)  # (B, T_out), (B, heads, T_out, S)
    assert weights.shape == (8, 4, 12, inputs.ids.shape[1])
    live = until_eos(outputs, dm.eos_id)
    sums = weights.sum(dim=-1).transpose(1, 2)  # (B, T_out, heads)
    torch.testing.assert_close(sums[live], torch.ones_like(sums[live]))
    assert (~live).any() and (sums[~live] == 0).all()  # nothing is drawn after eos
    for i, n in enumerate(inputs.lengths.tolist()):
        assert (weights[i, :, :, n:] == 0).all()


def test_the_transformer_learns_the_small_training_set(trained):
    _, losses = trained
    first, last = losses[0], sum(losses[-8:]) / 8  # the last pass over the 256 pairs
    assert last < 0.1 * first, f"loss {first:.2f} -> {last:.3f}"
