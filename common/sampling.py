"""Choosing the next token from a language model's logits: greedy, temperature, top-k, top-p.

Shared by every language model (the RNNs of ``litlab.sequence.lm`` and the GPT of ``transformer``),
so ``litlab generate`` and the sample callback behave the same whatever the network.

* ``temperature`` divides the logits: below 1 sharpens the distribution (safer, more
  repetitive text), above 1 flattens it (more surprising, more mistakes). 0 means greedy:
  always the most likely token, deterministic.
* ``top_k`` keeps only the k most likely tokens (nanoGPT's default trick against the long
  tail of unlikely tokens that, summed, are drawn surprisingly often).
* ``top_p`` (nucleus sampling, Holtzman et al. 2019) keeps the smallest set of most likely
  tokens whose probabilities add up to at least p: a cut-off that adapts to how sure the
  model is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch import Tensor


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Logits (B, V) with everything outside the top-k / top-p set at -inf."""
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        k = min(top_k, logits.shape[-1])
        kth = logits.topk(k, dim=-1).values[:, -1:]  # (B, 1): the k-th largest logit
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)  # (B, V)
        # drop a token when the tokens before it already reach p; the first always stays
        drop_sorted = (cumulative - sorted_logits.softmax(dim=-1)) >= top_p
        drop_sorted[:, 0] = False  # even when p rounds to 0 in the logits' dtype (5e-324)
        drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Next-token logits (B, V) -> token ids (B,).

    ``temperature=0`` is greedy (argmax, no randomness), and so is one below 1e-38 (0 in
    float32); otherwise the filtered, tempered distribution is sampled with ``generator`` (on
    the logits' device) for reproducibility.
    """
    if logits.ndim != 2:
        raise ValueError(f"expected logits of shape (B, V), got {tuple(logits.shape)}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    logits = logits.float()
    if temperature < torch.finfo(logits.dtype).tiny:  # 0, or so small float32 makes it 0
        return logits.argmax(dim=-1)
    # the best logit moved to 0 first: a tiny temperature (1e-30) would otherwise overflow the
    # division to inf, and softmax's inf - inf to nan; this way it tends to greedy, as it should
    logits = logits - logits.max(dim=-1, keepdim=True).values
    logits = filter_logits(logits / temperature, top_k, top_p)
    return draw(logits.softmax(dim=-1), generator)


def draw(probs: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One token id per row of probabilities (B, V) -> (B,).

    ``torch.multinomial``'s own method for a single draw (the exponential race, a form of
    the Gumbel-max trick: the argmax of p / E with E ~ Exp(1) is distributed as p), so the
    same generator gives the same tokens; but without its checks of the probabilities, which
    older PyTorch versions read on the host, so on a GPU they waited for the device at
    every token. Our probabilities come from a softmax: finite, non-negative, summing to 1.
    """
    race = torch.empty_like(probs).exponential_(1, generator=generator)
    return (probs / race).argmax(dim=-1)


# --- stop sequences: where a sampled text ends --------------------------------------------


def cut_at_stop(text: str, stops: list[str] | tuple[str, ...]) -> tuple[str, bool]:
    """(text before the earliest stop string, whether one occurred); empty stops are ignored."""
    ends = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return (text[: min(ends)], True) if ends else (text, False)


def unsafe_tail(text: str, stops: list[str] | tuple[str, ...]) -> int:
    """Length of the longest end of ``text`` that begins a stop string (``"...\\n"`` with stop
    ``"\\n\\n"`` -> 1): a streaming printer holds those characters back until it knows."""
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:n]):
                longest = n
                break
    return longest


def on_host(
    tokens: Iterable[Tensor], most: int = 32, batched: bool | None = None
) -> Iterator[Tensor]:
    """The tokens (B,) a sampler yields, on the host, in the same order.

    On a GPU, reading each token as it comes (``int(t[0])``) waits for the device at every
    step, so the sampler can never run ahead. Here tokens on an accelerator are gathered
    and copied in batches of 1, 2, 4, ... up to ``most`` (the first text still shows at
    once), one transfer per batch; CPU tokens pass one by one, as before (``batched``
    forces either way). A caller that stops early (a stop string) has let the sampler run
    at most one batch further.
    """
    batch: list[Tensor] = []
    size = 1
    for token in tokens:
        if not (token.device.type != "cpu" if batched is None else batched):
            yield token
            continue
        batch.append(token)
        if len(batch) >= size:
            yield from torch.stack(batch).cpu()  # (k, B): one wait for k tokens
            batch, size = [], min(2 * size, most)
    if batch:
        yield from torch.stack(batch).cpu()


def append_tokens(ids: Tensor, new_tokens: Iterable[Tensor]) -> Tensor:
    """Prompt ids (B, T) and new tokens (B,) one by one -> (B, T + n): what every
    language model's ``generate`` returns around its ``generate_iter``."""
    new = list(new_tokens)
    return torch.cat([ids, torch.stack(new, dim=1)], dim=1) if new else ids
