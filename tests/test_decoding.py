"""Fast decoding (issue 17): the static KV cache and the CUDA-graph step give today's tokens,
sampling draws what ``torch.multinomial`` drew, and tokens reach the host in batches."""

from __future__ import annotations

import pytest
import torch

from litlab.common.sampling import draw, filter_logits, on_host
from litlab.transformer.attention import KVCache
from litlab.transformer.decoding import CachedDecoder
from litlab.transformer.models import GPT, GPTConfig

POSITIONS = ["learned", "sinusoidal", "rope"]


def tiny_gpt(pos: str, block: int = 16, sharpen: float = 1.0) -> GPT:
    """A 2-layer GPT; ``sharpen`` scales the tied embedding so greedy choices are clear-cut
    (a fresh GPT's logits are nearly flat, and float rounding could then pick either)."""
    torch.manual_seed(0)
    cfg = GPTConfig(
        vocab_size=23, block_size=block, n_layer=2, n_head=4, n_embd=32, dropout=0.0,
        pos_encoding=pos,
    )  # fmt: skip
    net = GPT(cfg).eval()
    with torch.no_grad():
        net.tok_emb.weight.mul_(sharpen)
    return net


@torch.no_grad()
def generate_before(net: GPT, ids: torch.Tensor, n: int, temperature: float, top_k=None, g=None):
    """``GPT.generate_iter`` as it was before issue 17: a KVCache grown by concatenation, the
    window re-read when full, and ``torch.multinomial``."""
    context, caches, out = ids, None, []
    for _ in range(n):
        if caches is None or caches[0].length >= net.block_size:
            keep = net.block_size if caches is None else net.block_size // 2
            caches = [KVCache() for _ in net.blocks]
            logits = net(context[:, -keep:], caches)
        else:
            logits = net(context[:, -1:], caches)
        last = logits[:, -1].float()
        if temperature == 0:
            nxt = last.argmax(dim=-1)
        else:
            last = filter_logits((last - last.max(-1, keepdim=True).values) / temperature, top_k)
            nxt = torch.multinomial(last.softmax(-1), 1, generator=g).squeeze(-1)
        out.append(nxt)
        context = torch.cat([context, nxt[:, None]], dim=1)
    return torch.cat([ids, torch.stack(out, 1)], 1)


@pytest.mark.parametrize("pos", POSITIONS)
def test_greedy_tokens_are_those_of_the_growing_cache_past_the_block(pos: str):
    net = tiny_gpt(pos, block=16)
    prompt = torch.randint(23, (3, 5), generator=torch.Generator().manual_seed(1))
    before = generate_before(net, prompt, 40, temperature=0.0)  # re-reads the window twice
    after = net.generate(prompt, 40, temperature=0.0)
    assert after.shape == (3, 45) and torch.equal(after, before)


def test_sampled_tokens_are_those_of_before_for_the_same_seed():
    net = tiny_gpt("learned", block=16)
    prompt = torch.randint(23, (2, 3), generator=torch.Generator().manual_seed(2))
    before = generate_before(net, prompt, 30, 1.0, 5, torch.Generator().manual_seed(7))
    after = net.generate(prompt, 30, 1.0, 5, generator=torch.Generator().manual_seed(7))
    assert torch.equal(after, before)
    other = net.generate(prompt, 30, 1.0, 5, generator=torch.Generator().manual_seed(8))
    assert not torch.equal(after, other)  # the comparison can tell seeds apart


@pytest.mark.parametrize("pos", POSITIONS)
def test_the_recorded_step_at_a_device_held_position_gives_the_eager_tokens(pos: str):
    """What ``CachedDecoder`` records as a CUDA graph (attention over the whole buffer, the
    position a tensor), run eagerly here: the same logits and greedy tokens as the eager step."""
    net = tiny_gpt(pos, block=24, sharpen=20.0)
    prompt = torch.randint(23, (2, 4), generator=torch.Generator().manual_seed(3))
    eager = CachedDecoder(net, 2, torch.device("cpu"), graphs=False)
    recorded = CachedDecoder(net, 2, torch.device("cpu"), graphs=False)
    pos_tensor = torch.zeros((), dtype=torch.long)
    with torch.no_grad():
        a, b = eager.prefill(prompt), recorded.prefill(prompt)
        for _ in range(20):
            assert torch.allclose(a, b, atol=1e-5)
            token = a.argmax(-1)
            assert torch.equal(token, b.argmax(-1))
            a = eager.step(token)
            for cache in recorded.caches:  # CachedDecoder.step's graph branch, without the graph
                cache.position = pos_tensor
            pos_tensor.fill_(recorded.length)
            b = recorded.net(token[:, None], recorded.caches)[:, -1]
            for cache in recorded.caches:
                cache.position, cache.length = None, cache.length + 1
    assert recorded.length == eager.length == 24 and recorded.full


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
@pytest.mark.parametrize("pos", POSITIONS)
def test_cuda_graph_decoding_gives_the_eager_greedy_tokens(pos: str):
    net = tiny_gpt(pos, block=32, sharpen=20.0).cuda()
    prompt = torch.randint(23, (2, 4), device="cuda")
    eager = net.generate(prompt, 60, temperature=0.0, graphs=False)  # re-reads the window
    graphed = net.generate(prompt, 60, temperature=0.0, graphs=True)
    with torch.no_grad():
        assert CachedDecoder(net, 2, prompt.device, graphs=True).graph is not None  # recorded
    assert torch.equal(graphed, eager)


def test_draw_is_multinomials_single_draw_and_leaves_the_generator_alike():
    probs = torch.rand(4, 50, generator=torch.Generator().manual_seed(0)).softmax(-1)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for _ in range(20):
        assert torch.equal(draw(probs, g1), torch.multinomial(probs, 1, generator=g2)[:, 0])
    assert torch.equal(g1.get_state(), g2.get_state())


def test_tokens_reach_the_host_in_growing_batches_and_in_order():
    drawn = []

    def sampler():
        for i in range(100):
            drawn.append(i)
            yield torch.tensor([i])

    seen = []
    for token in on_host(sampler(), most=8, batched=True):
        seen.append(int(token[0]))
        if len(seen) == 5:  # a stop string found here: the sampler ran ahead by the batch only
            break
    assert seen == [0, 1, 2, 3, 4] and len(drawn) == 7  # batches of 1, 2, 4
    assert [int(t[0]) for t in on_host(sampler(), most=8, batched=True)] == list(range(100))
    assert [int(t[0]) for t in on_host(iter([torch.tensor([3])]))] == [3]  # CPU: as it comes
