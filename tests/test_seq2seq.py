"""Date normalisation seq2seq: the generated data, greedy and beam decoding, learning, and the
alignment heat maps in a real fit."""

from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import Tensor

from litlab.common.cli import run as litlab
from litlab.sequence.seq2seq.data import ENGLISH, KOREAN, DateDataModule, _parts, is_korean
from litlab.sequence.seq2seq.models import Seq2SeqGRU
from litlab.sequence.seq2seq.module import Seq2SeqModule, exact_match

# English formats that Python's own strptime can read back (index into ENGLISH -> pattern)
STRPTIME = {0: "%B %d, %Y", 1: "%d %b %Y", 2: "%m/%d/%Y", 3: "%m/%d/%y", 5: "%A, %B %d, %Y",
            10: "%d-%b-%Y", 11: "%A %d %B %Y", 12: "%Y/%m/%d"}
KOREAN_YMD = re.compile(r"^(\d{2,4})(?:년|\.) ?(\d{1,2})(?:월|\.) ?(\d{1,2})")


pytestmark = pytest.mark.usefixtures("one_thread")  # small matrices, shared CPU


@pytest.fixture(scope="module")
def dm() -> DateDataModule:
    data = DateDataModule(n_train=4000, n_val=200, n_test=400, batch_size=64)
    data.setup()
    return data


def test_every_format_renders_a_date_that_reads_back_to_its_iso_target():
    rng = random.Random(0)
    for _ in range(300):
        d = dt.date(1969, 1, 1) + dt.timedelta(rng.randrange(36524))
        p = _parts(d)
        for i, pattern in STRPTIME.items():  # 2-digit years follow strptime's 69/68 pivot
            assert dt.datetime.strptime(ENGLISH[i](p), pattern).date() == d
        for fmt in KOREAN:
            y, m, day = KOREAN_YMD.match(fmt(p)).groups()
            year = int(y) if len(y) == 4 else dt.datetime.strptime(y, "%y").year
            assert dt.date(year, int(m), int(day)) == d
        weekday_ko = "월화수목금토일"[d.weekday()]
        assert f"{weekday_ko}요일" in KOREAN[1](p) and d.strftime("%a") in ENGLISH[4](p)


def test_generated_pairs_have_valid_iso_targets_and_both_languages(dm: DateDataModule):
    pairs = dm.pairs["train"]
    for _, target in pairs:
        assert dt.date.fromisoformat(target).isoformat() == target
    korean = sum(is_korean(s) for s, _ in pairs) / len(pairs)
    assert 0.3 < korean < 0.6  # half Korean formats, two of which hold no Hangul
    assert any(s.startswith(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")) for s, _ in pairs)


def test_train_and_test_share_no_date(dm: DateDataModule):
    train_dates = {t for _, t in dm.pairs["train"]}
    test_dates = {t for _, t in dm.pairs["test"]}
    assert len(test_dates) == 400  # every test day once
    assert not train_dates & test_dates
    assert not {s for s, _ in dm.pairs["train"]} & {s for s, _ in dm.pairs["test"]}
    # the same seed gives the same data, another seed other data
    again = DateDataModule(n_train=4000, n_val=200, n_test=400)
    again.setup()
    assert again.pairs == dm.pairs


def test_batches_frame_targets_and_the_tokenizer_travels_in_the_state_dict(dm: DateDataModule):
    inputs, target = next(iter(dm.val_dataloader()))
    assert target.shape[1] == 12 and (target[:, 0] == dm.bos_id).all()
    assert (target[:, 11] == dm.eos_id).all()  # every ISO date is 10 characters
    assert dm.decode(target[0]) == dm.pairs["val"][0][1]
    assert inputs.ids.shape == (len(target), int(inputs.lengths.max()))
    restored = DateDataModule()
    restored.tokenizer = None
    restored.load_state_dict(dm.state_dict())
    assert torch.equal(restored.encode_texts(["2026년 11월 25일"]).ids,
                       dm.encode_texts(["2026년 11월 25일"]).ids)
    assert dm.encode_texts(["25 Nov 2026 ★"]).ids[0, -1] == dm.tokenizer.stoi["<unk>"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_search_with_beam_one_equals_greedy(dm: DateDataModule, seed: int):
    torch.manual_seed(seed)
    net = Seq2SeqGRU(dm.vocab_size, dm.pad_id, embed_dim=16, hidden=32).eval()
    inputs, _ = dm.probe_batch(16)
    greedy, _ = net.greedy(*inputs, dm.bos_id, dm.eos_id, max_len=12)
    beam = net.beam_search(*inputs, dm.bos_id, dm.eos_id, max_len=12, beam=1)
    assert torch.equal(greedy, beam)


def _log_prob(net: Seq2SeqGRU, inputs, outputs: Tensor, bos: int, eos: int) -> Tensor:
    """Sum of log-probabilities of each output sequence (B,), up to and with its first eos."""
    target_in = torch.cat([torch.full_like(outputs[:, :1], bos), outputs[:, :-1]], dim=1)
    logp = F.log_softmax(net(*inputs, target_in), dim=-1)
    picked = logp.gather(-1, outputs[..., None]).squeeze(-1)
    ended = (outputs == eos).long().cumsum(dim=1) - (outputs == eos).long() > 0  # after eos
    return picked.masked_fill(ended, 0.0).sum(dim=1)


def test_a_beam_as_wide_as_the_vocabulary_finds_the_most_probable_output(dm: DateDataModule):
    """Two steps, beam = vocabulary size: nothing is pruned, so beam search must return the
    best of all V * V outputs (or of the ones ending with eos at once), found by brute force."""
    torch.manual_seed(0)
    net = Seq2SeqGRU(dm.vocab_size, dm.pad_id, embed_dim=16, hidden=32, dropout=0.0).eval()
    inputs, _ = dm.probe_batch(4)
    v, b = dm.vocab_size, 4
    with torch.no_grad():
        states, projected, mask, state = net.encode(*inputs)
        bos = torch.full((b,), dm.bos_id)
        logits, state, _ = net.step(bos, state, (states, projected, mask))
        first = F.log_softmax(logits, dim=-1)  # (B, V)
        memory = tuple(m.repeat_interleave(v, dim=0) for m in (states, projected, mask))
        second_logits, _, _ = net.step(
            torch.arange(v).repeat(b), state.repeat_interleave(v, dim=0), memory
        )
        both = first[:, :, None] + F.log_softmax(second_logits, -1).view(b, v, v)  # (B, a, b)
        both[:, dm.eos_id, :] = float("-inf")  # after eos nothing follows...
        brute = torch.maximum(both.flatten(1).max(dim=1).values, first[:, dm.eos_id])  # ...
        beam = net.beam_search(*inputs, dm.bos_id, dm.eos_id, max_len=2, beam=v)
        found = _log_prob(net, inputs, beam, dm.bos_id, dm.eos_id)
    assert torch.allclose(found, brute, atol=1e-5)


def test_gru_with_attention_learns_a_small_version_of_the_task(dm: DateDataModule):
    torch.manual_seed(0)
    net = Seq2SeqGRU(dm.vocab_size, dm.pad_id, embed_dim=32, hidden=64, dropout=0.0)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    loader = torch.utils.data.DataLoader(dm.pairs["train"], 64, shuffle=True,
                                         collate_fn=dm._collate)
    for step in range(150):  # 2.4 epochs of the 4,000 pairs
        if step % len(loader) == 0:
            batches = iter(loader)
        inputs, target = next(batches)
        logits = net(*inputs, target[:, :-1])
        loss = F.cross_entropy(logits.transpose(1, 2), target[:, 1:], ignore_index=dm.pad_id)
        opt.zero_grad()
        loss.backward()
        opt.step()
    inputs, target = next(iter(dm.val_dataloader()))
    outputs, weights = net.eval().greedy(*inputs, dm.bos_id, dm.eos_id, max_len=12)
    accuracy = exact_match(outputs, target[:, 1:], dm.pad_id).float().mean()
    assert accuracy > 0.7, f"exact match {accuracy:.2f} after 150 steps"
    # attention rows are distributions over the real input characters
    assert torch.allclose(weights[:, 0].sum(-1), torch.ones(len(target)))
    assert (weights[0, :, int(inputs.lengths[0]):] == 0).all()


def test_alignment_heat_maps_and_exact_match_land_in_tensorboard(tiny_root: Path, in_tmp: Path):
    cli = litlab([
        "fit", "--config", str(REPO / "experiments" / "sequence" / "dates_seq2seq.yaml"),
        f"--data.root={tiny_root}", "--data.init_args.n_train=512",
        "--data.init_args.n_val=32", "--data.init_args.n_test=32",
        "--data.init_args.batch_size=64", "--model.init_args.net.init_args.hidden=32",
        "--trainer.max_epochs=2", "--trainer.enable_progress_bar=false",
    ])
    run = in_tmp / "logs" / "sequence" / "dates_seq2seq" / "version_0"
    events = EventAccumulator(str(run), size_guidance={"images": 0})
    events.Reload()
    for i in range(4):
        images = events.Images(f"val/alignment/{i}")
        assert len(images) == 2 and images[0].width > 150  # one per epoch
    assert {"test/acc", "test/acc_greedy"} <= set(cli.trainer.callback_metrics)
    assert {"val/acc", "val/acc_best", "val/token_acc"} <= set(events.Tags()["scalars"])
    # the checkpoint alone decodes: the special ids are saved with the weights
    best = Seq2SeqModule.load_from_checkpoint(run / "checkpoints" / "best.ckpt")
    dm = cli.datamodule
    assert best.specials.tolist() == [dm.pad_id, dm.bos_id, dm.eos_id]
    assert best.decode(dm.encode_texts(["25 Nov 2026"])).shape == (1, 12)
