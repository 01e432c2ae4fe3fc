"""Abstractive headlines: the (lead, headline) pairs, the copy mechanism, the beam's length
penalty, the lead-N-words baseline, and a tiny fit that logs ROUGE and sample headlines."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import REPO

from litlab.common.beam import beam_search
from litlab.common.cli import main
from litlab.experiments.headline_baselines import best_n, lead_scores, lead_words
from litlab.sequence.seq2seq.models import Seq2SeqGRU
from litlab.sequence.seq2seq.pointer import PointerGeneratorGRU
from litlab.sequence.summarization.corpus import Article, read_bbc, split_articles
from litlab.sequence.summarization.headline_data import HeadlineDataModule
from litlab.sequence.summarization.rouge import Rouge

pytestmark = pytest.mark.usefixtures("one_thread")  # small recurrent nets, shared CPU


@pytest.fixture(scope="module")
def dm(tiny_root: Path) -> HeadlineDataModule:
    data = HeadlineDataModule(root=str(tiny_root), vocab_size=400, source_sentences=2,
                              max_source_tokens=30, batch_size=4)
    data.setup()
    return data


def test_pairs_are_the_lead_sentences_and_the_headline_on_the_extractive_split(
    dm: HeadlineDataModule, tiny_root: Path
):
    expected = split_articles(read_bbc(tiny_root))
    assert [[a.id for a in part] for part in expected] == [
        [a.id for a in dm.articles(s)] for s in ("train", "val", "test")]
    (src, target) = next(iter(dm.val_dataloader()))
    articles = dm.articles("val")
    assert src.ids.shape == (len(articles), int(src.lengths.max())) and src.lengths.max() <= 30
    for i, a in enumerate(articles):
        row = target[i].tolist()
        assert row[0] == dm.bos_id and row[row.index(dm.eos_id) - 1] != dm.pad_id
        assert dm.decode(target[i]) == a.title  # the reference ROUGE is scored against
        lead = " ".join(a.sentences[:2])
        assert lead.startswith(dm.decode(src.ids[i, : src.lengths[i]]))  # cut, never altered
    assert dm.vocab_size == dm.tokenizer.vocab_size + 2 == dm.eos_id + 1
    assert dm.token_strings(torch.tensor([dm.bos_id, dm.eos_id])) == ["<s>", "</s>"]


def _net(vocab: int = 20, copy: bool = True) -> PointerGeneratorGRU:
    torch.manual_seed(0)
    return PointerGeneratorGRU(vocab, 0, embed_dim=8, hidden=12, dropout=0.0, copy=copy).eval()


def test_the_copy_mixture_is_a_distribution_that_copies_only_source_tokens():
    net = _net()
    ids = torch.tensor([[5, 7, 7, 9], [3, 4, 0, 0]])
    lengths = torch.tensor([4, 2])
    memory, state = net.start(ids, lengths)
    log_p, _, weights = net.step(torch.tensor([1, 1]), state, memory)
    assert torch.allclose(log_p.exp().sum(-1), torch.ones(2), atol=1e-5)
    with torch.no_grad():
        net.gate.bias.fill_(-50.0)  # p_gen = 0: copy only
    log_p, _, weights = net.step(torch.tensor([1, 1]), state, memory)
    p = log_p.exp()
    assert torch.allclose(p[0, 7], weights[0, 1] + weights[0, 2], atol=1e-5)  # 7 twice: summed
    assert torch.allclose(p[1, [3, 4]].sum(), torch.tensor(1.0), atol=1e-5)  # padding: nothing
    assert p[0, [1, 2, 3, 4, 6, 8]].max() < 1e-6  # tokens absent from the source
    shares = net.copy_share(ids, lengths, torch.tensor([[1, 5], [1, 3]]))
    assert shares.shape == (2, 2) and torch.allclose(shares, torch.ones(2, 2))


def test_without_copy_the_pointer_net_is_the_attention_gru():
    net = _net(copy=False)
    plain = Seq2SeqGRU(20, 0, embed_dim=8, hidden=12, dropout=0.0).eval()
    missing = plain.load_state_dict(net.state_dict(), strict=False)
    assert missing.unexpected_keys == ["gate.weight", "gate.bias"]
    ids, lengths, target_in = torch.tensor([[5, 7, 9]]), torch.tensor([3]), torch.tensor([[1, 5]])
    assert torch.allclose(net(ids, lengths, target_in),
                          plain(ids, lengths, target_in).log_softmax(-1), atol=1e-5)


def test_the_length_penalty_lets_a_longer_likelier_ending_win():
    # vocabulary: 0 pad, 1 bos, 2 eos, 3 "a". Step 1: eos or "a" at 0.5 each; after "a", eos 0.99.
    def step(prev: torch.Tensor) -> torch.Tensor:
        p = torch.full((len(prev), 4), 1e-6)
        first = prev == 1
        p[first, 2], p[first, 3] = 0.5, 0.5
        p[~first, 2], p[~first, 3] = 0.99, 0.01
        return p.log()

    def run(alpha: float) -> list[int]:
        out = beam_search(step, lambda rows: None, 1, 2, 1, 2, 0, 4, torch.device("cpu"), alpha)
        return out[0].tolist()

    assert run(0.0) == [2, 0, 0, 0]  # raw log p: log 0.5 > log 0.5 + log 0.99
    assert run(1.0) == [3, 2, 0, 0]  # normalised by length, "a </s>" wins


def test_lead_words_baseline_scores_a_known_example_by_hand():
    article = Article("x", ["The dollar hit a high on Monday after the speech.", "More."],
                      title="Dollar hits high")
    assert lead_words(article, 4) == "The dollar hit a"
    scores = lead_scores([article], 4, Rouge("en"))
    # unigrams: dollar, hit (hits, stemmed) of 4 predicted and 3 reference words
    assert scores["rouge1"] == pytest.approx(2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3))
    # bigrams: "dollar hit" of 3 predicted and 2 reference bigrams
    assert scores["rouge2"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    crafted = [Article(str(i), [f"Word{i} second third fourth fifth sixth."], title=f"Word{i}"
                       " second third") for i in range(3)]
    assert best_n(crafted, Rouge("en")) == 3


def test_a_tiny_fit_logs_rouge_and_sample_headlines(tiny_root: Path, in_tmp: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    main(["fit", "--config", str(REPO / "experiments/sequence/bbc_headline.yaml"),
          f"--data.root={tiny_root}", "--data.init_args.vocab_size=300",
          "--data.init_args.batch_size=8", "--model.init_args.net.init_args.hidden=32",
          "--model.init_args.net.init_args.embed_dim=32", "--model.init_args.lr=1e-2",
          # the tiny articles name their topic in any sentence: read them whole
          "--data.init_args.source_sentences=9", "--data.init_args.max_source_tokens=200",
          "--model.init_args.max_output_len=16", "--trainer.max_epochs=12",
          "--trainer.enable_progress_bar=false"])
    acc = EventAccumulator(str(in_tmp / "logs/sequence/bbc_headline/version_0"),
                           size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    scalars = set(acc.Tags()["scalars"])
    assert {f"{s}/{k}" for s in ("val", "test") for k in ("rouge1", "rouge2", "rougeL")} <= scalars
    assert "test/rougeL_greedy" in scalars and "val/rougeL_best" in scalars
    # tiny headlines are "<Topic> news <n>" (n random): topic and "news" right is 2/3
    assert acc.Scalars("test/rouge1")[-1].value > 0.6
    assert len(acc.Tensors("val/samples/text_summary")) == 12  # one entry per epoch
    text = acc.Tensors("val/samples/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert "reference:" in text and "beam 4:" in text and "←" in text


def test_no_repeat_ngram_bans_what_would_repeat_and_the_beam_obeys():
    from litlab.common.beam import repeated_ngram_tokens

    seqs = torch.tensor([[5, 6, 5], [7, 7, 8]])
    assert repeated_ngram_tokens(seqs, 2) == [(0, 6)]  # "5 6" again after the last 5
    assert sorted(repeated_ngram_tokens(seqs, 1)) == [(0, 5), (0, 5), (0, 6), (1, 7), (1, 7),
                                                      (1, 8)]

    def loop(prev: torch.Tensor) -> torch.Tensor:  # always "3" first, then "4", then eos
        return torch.tensor([0.0, 0.0, 1.0, 3.0, 2.0]).log().expand(len(prev), 5).clone()

    plain = beam_search(loop, lambda rows: None, 1, 2, 1, 2, 0, 4, torch.device("cpu"))
    blocked = beam_search(loop, lambda rows: None, 1, 2, 1, 2, 0, 4, torch.device("cpu"),
                          no_repeat_ngram=1)
    assert plain[0].tolist() == [3, 3, 3, 3]
    assert blocked[0].tolist() == [3, 4, 2, 0]
