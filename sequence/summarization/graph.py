"""TextRank made learnable, inside the network: whole words, weighted bags, PageRank.

TextRank (Mihalcea & Tarau 2004; ``extractors.py``) calls a sentence central when it shares
content words with many central sentences. ``WordGraph`` computes the same thing in the
forward pass, so gradients reach the words' weights:

1. **words from subwords**: the net reads BPE ids, and a BPE piece is a poor unit of overlap
   ("Ġprof" + "its"). A word is a run of pieces that starts at a word-start piece ("Ġ" for
   byte-level BPE, "▁" for the Korean tokenizer), at the sentence's start or after
   punctuation; each word is hashed from its pieces' lower-cased forms into one of
   ``buckets`` ids (the hashing trick), so "Profits" and "profits" meet (the data encodes
   every sentence after a space, so its first word has the pieces it has inside one);
2. **weighted bags**: each sentence becomes a bag of its words, each word weighted by a
   learned ``exp(log_weight)`` (1 at the start: plain term counts, which fit BBC's
   references better than TF-IDF) and stop words by 0, as TextRank's stop-word list;
3. **graph and rank**: cosine similarity of the bags, then PageRank by power iteration on the
   real sentences (padding takes no part).

At initialisation the ranks equal networkx's PageRank of the sentences' term-count cosine
graph (a test checks it); training moves the word weights from there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

_PRIME, _MULT = 2_147_483_647, 1_000_003  # a polynomial hash of a word's pieces, mod a prime
_MARKS = "\u0120\u2581"  # the word-start marks: byte-level "Ġ", SentencePiece/Metaspace "▁"


class WordGraph(nn.Module):
    """Sentence centrality from whole-word bags: ``forward(ids (B, S, T), lengths (B, S)) ->
    (B, S, 2)``: each sentence's PageRank (times the number of sentences: 1 is average)
    and its mean cosine similarity to the others.

    ``learn_lexicon`` must be called once with the tokenizer's pieces (the module's
    ``setup`` does it); the lexicon is kept in buffers, so a checkpoint needs no tokenizer
    to rebuild it.
    """

    def __init__(self, vocab_size: int, buckets: int = 1 << 18) -> None:
        super().__init__()
        self.buckets = buckets
        # per piece id: its lower-cased form's index (0: punctuation, not part of a word)
        self.register_buffer("canon", torch.zeros(vocab_size, dtype=torch.long))
        self.register_buffer("opens", torch.zeros(vocab_size, dtype=torch.bool))  # "Ġ..."
        self.register_buffer("stop", torch.zeros(buckets, dtype=torch.bool))  # weight 0
        self.log_weight = nn.Embedding(buckets, 1)
        nn.init.zeros_(self.log_weight.weight)

    @torch.no_grad()
    def learn_lexicon(
        self, pieces: Sequence[str], stop_words: Iterable[Sequence[int]] = ()
    ) -> None:
        """``pieces[i]``: piece i as the tokenizer stores it ("Ġprofits", "ing", ",");
        ``stop_words``: piece-id sequences of words that never count (e.g. "Ġthe")."""
        forms: dict[str, int] = {}
        self.canon.zero_()
        self.opens.zero_()
        for i, piece in enumerate(pieces[: len(self.canon)]):
            bare = piece.lstrip(_MARKS)
            form = "".join(ch for ch in bare.lower() if ch.isalnum())
            if form and not piece.startswith("<"):  # not <pad>
                self.canon[i] = forms.setdefault(form, len(forms) + 1)
                # a word starts at a marked piece ("Ġ"); "ĠAOL" + "'s" stay one word, "aols"
                # (kept apart from "aol": on BBC's references that ranks better)
                self.opens[i] = bare != piece
        self.stop.zero_()
        for seq in stop_words:
            ids = torch.tensor([list(seq)], device=self.canon.device)[None]  # (1, 1, T)
            words = self.word_ids(ids, torch.tensor([[ids.shape[-1]]], device=ids.device))
            self.stop[words[words >= 0]] = True

    def word_ids(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids (B, S, T) -> (B, S, T): the word's bucket at each word's last piece, else -1."""
        t = ids.shape[-1]
        canon = self.canon[ids]  # (B, S, T)
        valid = (torch.arange(t, device=ids.device) < lengths[..., None]) & (canon > 0)
        after_gap = torch.ones_like(valid)  # the sentence start, or after punctuation
        after_gap[..., 1:] = ~valid[..., :-1]
        starts = valid & (self.opens[ids] | after_gap)
        hashes, h = [], torch.zeros_like(canon[..., 0])
        for i in range(t):  # a running hash that restarts at every word start
            h = torch.where(starts[..., i], canon[..., i], (h * _MULT + canon[..., i]) % _PRIME)
            hashes.append(h)
        continued = torch.zeros_like(valid)  # the next piece carries on this word
        continued[..., :-1] = valid[..., 1:] & ~starts[..., 1:]
        ends = valid & ~continued
        return torch.where(ends, torch.stack(hashes, -1) % self.buckets, -1)

    def bags(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids (B, S, T) -> weighted word bags (B, S, U) over the U words of the batch."""
        words = self.word_ids(ids, lengths)
        known = words.clamp_min(0)
        weight = self.log_weight(known).squeeze(-1).exp() * (words >= 0) * ~self.stop[known]
        columns, inverse = torch.unique(known, return_inverse=True)  # (U,), (B, S, T)
        b, s, _ = ids.shape
        out = weight.new_zeros(b, s, len(columns))
        return out.scatter_add(2, inverse, weight)

    @staticmethod
    def pagerank(bags: Tensor, real: Tensor, damping: float = 0.85, steps: int = 30) -> Tensor:
        """bags (B, S, U), real (B, S) -> (B, S, 2): PageRank in the bags' cosine graph
        (times the number of sentences) and the mean similarity to the other sentences."""
        unit = nn.functional.normalize(bags, dim=-1)
        sim = unit @ unit.transpose(1, 2)  # (B, S, S)
        edges = real[:, None, :] & real[:, :, None]
        edges = edges & ~torch.eye(bags.shape[1], dtype=torch.bool, device=bags.device)
        sim = sim * edges
        n = real.sum(1, keepdim=True).clamp_min(1).to(sim.dtype)  # (B, 1)
        mean_sim = sim.sum(-1) / (n - 1).clamp_min(1)
        # row-normalised transition matrix; a sentence with no similar one links to none
        walk = sim / sim.sum(-1, keepdim=True).clamp_min(1e-8)
        rank = real / n
        for _ in range(steps):  # r <- (1 - d) / n + d * W^T r, on the real sentences only
            rank = (1 - damping) / n + damping * (walk.transpose(1, 2) @ rank[..., None])[..., 0]
            rank = rank * real
        return torch.stack([rank * n, mean_sim], dim=-1)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        return self.pagerank(self.bags(ids, lengths), lengths > 0)
