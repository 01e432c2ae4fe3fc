"""Beam search, once for every encoder-decoder (the GRU of ``litlab.sequence.seq2seq.models``
and the transformer of ``litlab.transformer.encoder_decoder``; common/ since both domains use it).

Keep the ``beam`` most probable partial outputs (sum of log-probabilities) per input and
return the best finished one. The beams live in the batch dimension: row ``b * beam + j`` is
beam j of input b. A network takes part through two callbacks: ``step(prev)`` feeds the
previous tokens (B*K,) and returns next-token logits (B*K, V), and ``reorder(rows)`` makes
the decoder's state (a recurrent state, a key/value cache) follow the surviving beams, each
keeping its own parent's past. With ``beam=1`` this is greedy decoding (tested).

``length_penalty`` (alpha, GNMT's, Wu et al. 2016) picks the final output by
``log p / ((5 + length) / 6) ** alpha`` instead of ``log p``: every token costs log-probability,
so free text (headlines) without it favours the shortest output; 0 (the default) keeps the
raw sum, which is right when every output has the same length (dates).
``no_repeat_ngram`` (n, fairseq's and Hugging Face's ``no_repeat_ngram_size``) forbids any
token that would repeat an n-gram the beam already holds: a small decoder on little data
loops ("oil oil oil"), and this removes the loop at decoding time (0: off).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def repeated_ngram_tokens(seqs: Tensor, n: int) -> list[tuple[int, int]]:
    """(row, token) pairs where ``token`` would complete an ``n``-gram that row of ``seqs``
    (rows, L) already holds: its last n-1 tokens occurred before, followed by ``token``."""
    pairs = []
    for r, row in enumerate(seqs.tolist()):
        if len(row) < n - 1:
            continue
        prefix = row[len(row) - n + 1 :]
        pairs += [(r, row[i + n - 1]) for i in range(len(row) - n + 1)
                  if row[i : i + n - 1] == prefix]
    return pairs


def beam_search(
    step: Callable[[Tensor], Tensor],
    reorder: Callable[[Tensor], None],
    batch: int,
    beam: int,
    bos: int,
    eos: int,
    pad: int,
    max_len: int,
    device: torch.device,
    length_penalty: float = 0.0,
    no_repeat_ngram: int = 0,
) -> Tensor:
    """The best output per input (batch, max_len): ``eos`` then padding after it."""
    b, k = batch, beam
    scores = torch.zeros(b, k, device=device)
    scores[:, 1:] = float("-inf")  # all beams start equal: keep one, or all K would tie
    prev = torch.full((b * k,), bos, dtype=torch.long, device=device)
    done = torch.zeros(b * k, dtype=torch.bool, device=device)
    seqs = torch.empty(b * k, 0, dtype=torch.long, device=device)
    for _ in range(max_len):
        logp = F.log_softmax(step(prev), dim=-1)  # (B*K, V)
        v = logp.shape[-1]
        if no_repeat_ngram:
            for r, token in repeated_ngram_tokens(seqs, no_repeat_ngram):
                logp[r, token] = float("-inf")
        # a finished beam may only grow by padding, at no cost: it stays one candidate
        logp[done] = float("-inf")
        logp[done, pad] = 0.0
        total = (scores.reshape(-1, 1) + logp).view(b, k * v)
        scores, flat = total.topk(k, dim=-1)  # (B, K)
        rows = (torch.arange(b, device=device)[:, None] * k + flat // v).flatten()
        prev = (flat % v).flatten()
        seqs = torch.cat([seqs[rows], prev[:, None]], dim=1)
        done = done[rows] | (prev == eos)
        reorder(rows)
        if bool(done.all()):
            break
    if length_penalty:  # tokens up to and including eos, (B, K)
        lengths = ((seqs != pad) & (seqs != eos)).sum(dim=1) + (seqs == eos).any(dim=1)
        scores = scores / ((5.0 + lengths.view(b, k).float()) / 6.0) ** length_penalty
    best = scores.argmax(dim=-1) + torch.arange(b, device=device) * k
    out = seqs[best]
    return F.pad(out, (0, max_len - out.shape[1]), value=pad)
