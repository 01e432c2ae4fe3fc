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
# # 04. RNN: 순서가 있는 데이터, LSTM/GRU, 글 생성, 감성 분석, 시계열
#
# 글, 음성, 주가처럼 **순서가 의미를 갖는** 데이터는 길이도 제각각입니다. 순환 신경망(RNN)은
# 한 번에 한 토큰씩 읽으며 지금까지 읽은 것을 **은닉 상태** $h_t$ 하나에 요약해 들고 다닙니다.
#
# 이 노트북에서 할 일:
#
# 1. RNN 한 스텝을 손으로 계산하고 `nn.RNN`과 비교
# 2. 바닐라 RNN이 오래된 정보를 잊는 이유: 기울기 크기 실험
# 3. LSTM을 손으로 계산하고 `nn.LSTM`과 비교(GRU는 연습 문제)
# 4. 문자 단위 언어 모델: 셰익스피어를 학습하고 샘플링하기
# 5. 감성 분석: 한국어(NSMC)와 영어(SST-2), 어떤 단어가 판단을 이끌었는지(토큰 기여도)
# 6. 시계열 예측: 항공 승객 수, 계절 단순 예측(seasonal naive)과 비교
#
# 2코어 CPU에서 몇 분 걸립니다. 데이터는 CLI와 같은 데이터 루트(`DATA_DIR`)에서 읽습니다.

# %% tags=["parameters"]
# 매개변수 셀: 테스트는 LITLAB_NOTEBOOK_TINY=1 로 아주 작은 데이터와 몇 스텝만 실행합니다.
import os

TINY = os.environ.get("LITLAB_NOTEBOOK_TINY") == "1"
SEED = 0
LM_STEPS = 10 if TINY else 400  # character language model: training steps
TEXT_SUBSET = None if TINY else 20_000  # reviews per split for the sentiment models
FORECAST_EPOCHS = 3 if TINY else 200

# %%
import warnings

# notices that say nothing about this notebook (no widgets for progress bars, few workers, ...)
warnings.filterwarnings("ignore", message=".*(IProgress|does not have many workers|is an instance"
                        "|LeafSpec|smaller than the logging interval|Skipping val loop).*")

import logging
import time
from pathlib import Path

import lightning as L
import matplotlib.pyplot as plt
import torch
from torch import nn

import litlab.common.viz  # noqa: F401  litlab's figures; it selects a file-only backend,

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


def quiet_trainer(**kwargs) -> L.Trainer:
    """A Trainer without progress bars, logger or checkpoints: the notebook prints instead."""
    return L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, **kwargs)


def readme_row(key: str) -> list[str]:
    """The cells of the README results-table row whose experiment column contains ``key``."""
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and key in cells[0]:
            return cells
    raise KeyError(f"no row for {key!r} in the README's results table")


# %% [markdown]
# ## 1. RNN 한 스텝을 손으로
#
# 가장 단순한(바닐라) RNN은 매 스텝 입력 $x_t$와 이전 상태 $h_{t-1}$로 새 상태를 만듭니다.
#
# $$h_t = \tanh(W_{ih}\,x_t + b_{ih} + W_{hh}\,h_{t-1} + b_{hh})$$
#
# 모든 스텝이 **같은 가중치**를 씁니다(CNN이 모든 위치에서 같은 필터를 쓰듯). `nn.RNN`의
# 가중치로 직접 계산해 결과를 비교합니다.

# %%
rnn = nn.RNN(input_size=3, hidden_size=5, batch_first=True)
x = torch.randn(2, 7, 3)  # (B, T, input)

h = torch.zeros(2, 5)
outs = []
for t in range(x.shape[1]):
    h = torch.tanh(x[:, t] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h @ rnn.weight_hh_l0.T
                   + rnn.bias_hh_l0)
    outs.append(h)
ours = torch.stack(outs, dim=1)  # (B, T, hidden)
theirs, h_last = rnn(x)
assert torch.allclose(ours, theirs, atol=1e-6) and torch.allclose(h, h_last[0], atol=1e-6)
print("hand-written RNN = nn.RNN:", tuple(ours.shape))

# %% [markdown]
# ## 2. 바닐라 RNN은 왜 잊을까
#
# 학습 신호(기울기)가 $t$ 스텝 전의 상태까지 거꾸로 전해지려면, 한 스텝 뒤로 갈 때마다
# $W_{hh}^\top \mathrm{diag}(1 - h^2)$를 곱해야 합니다. 이 곱의 크기가 1보다 작으면 신호는
# 거리에 따라 **기하급수적으로** 작아지고(기울기 소실), 1보다 크면 폭발합니다.
#
# **덧셈 문제**(adding problem)로 확인합니다. 길이 $T$의 수열에 표시된 두 수를 더하는
# 문제인데, 첫 번째 표시는 수열의 앞쪽 절반에 있습니다. 아무것도 기억하지 못하는 모델은
# 평균(1.0)만 답할 수 있고, 그때의 평균 제곱 오차가 1/6 ≈ 0.167입니다.
# `litlab.sequence.long_range`의 `hidden_gradient_norms`는 손실의 기울기
# $\lVert \partial L / \partial h_t \rVert$를 스텝마다 잽니다. 학습 전의 RNN, LSTM, GRU를
# 비교합니다.

# %%
from litlab.common.callbacks.gradient_flow import gradient_flow_figure
from litlab.sequence.long_range.data import AddingProblemDataModule
from litlab.sequence.long_range.models import RecurrentRegressor, hidden_gradient_norms

adding = AddingProblemDataModule(seq_len=100, val_size=64)
seqs, sums = adding.probe_batch(64)  # (64, T, 2): value and marker; (64,) targets
print("a sequence: values", seqs[0, :6, 0].numpy().round(2), "markers", seqs[0, :, 1].nonzero().flatten().tolist())

curves = {}
for cell in ("rnn", "lstm", "gru"):
    torch.manual_seed(SEED)
    curves[f"{cell} (untrained)"] = hidden_gradient_norms(RecurrentRegressor(cell), seqs, sums)
fig = gradient_flow_figure(curves, "gradient reaching back in time (T = 100)")
fig.set_size_inches(6, 3.2)
plt.show()  # the figure once (a bare `fig` would show it twice)

# %%
for name, c in curves.items():
    print(f"{name:<18} ||dL/dh|| at the last step {c[-1]:.1e}, 50 steps back {c[-51]:.1e}, "
          f"ratio {c[-51] / c[-1]:.1e}")

# %% [markdown]
# RNN의 곡선은 몇십 스텝 만에 몇 자릿수 떨어집니다. 50 스텝 전의 입력에 대해서는 손실이
# 거의 아무것도 가르쳐 주지 못한다는 뜻입니다. LSTM과 GRU의 곡선은 훨씬 평평합니다.
# 실제로 학습해 보면(`experiments/sequence/rnn_long_range.yaml`, T = 50) 결과가 갈립니다.
# README의 결과표에서 읽어 옵니다.

# %%
row = readme_row("sequence/rnn_long_range")
print(f"{row[0]}\n  {row[1]}: {row[2]}\n  hardware {row[3]}, wall time {row[4]}")

# %% [markdown]
# ## 3. LSTM: 더해 가는 기억
#
# LSTM(Hochreiter & Schmidhuber, 1997)은 은닉 상태 옆에 **셀 상태** $c_t$를 하나 더 두고, 세
# 개의 게이트로 무엇을 지우고(forget, $f$), 무엇을 쓰고(input, $i$), 무엇을 내보낼지(output,
# $o$) 정합니다.
#
# $$\begin{aligned}
# i_t &= \sigma(W_i [x_t; h_{t-1}] + b_i) & f_t &= \sigma(W_f [x_t; h_{t-1}] + b_f)\\
# g_t &= \tanh(W_g [x_t; h_{t-1}] + b_g) & o_t &= \sigma(W_o [x_t; h_{t-1}] + b_o)\\
# c_t &= f_t \odot c_{t-1} + i_t \odot g_t & h_t &= o_t \odot \tanh(c_t)
# \end{aligned}$$
#
# 핵심은 $c_t = f_t \odot c_{t-1} + \dots$ 입니다. 곱셈이 아니라 **덧셈**으로 기억을 이어
# 가므로, $f_t \approx 1$이면 기울기가 거의 그대로 과거로 흐릅니다. PyTorch는 네 게이트의
# 가중치를 `i, f, g, o` 순서로 한 행렬에 쌓아 둡니다.

# %%
lstm = nn.LSTM(input_size=3, hidden_size=5, batch_first=True)
W = torch.cat([lstm.weight_ih_l0, lstm.weight_hh_l0], dim=1)  # (4H, input + H)
b = lstm.bias_ih_l0 + lstm.bias_hh_l0  # (4H,)

h, c = torch.zeros(2, 5), torch.zeros(2, 5)
outs = []
for t in range(x.shape[1]):
    gates = torch.cat([x[:, t], h], dim=1) @ W.T + b  # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=1)  # PyTorch's gate order
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    outs.append(h)
theirs, (h_last, c_last) = lstm(x)
assert torch.allclose(torch.stack(outs, dim=1), theirs, atol=1e-6)
assert torch.allclose(c, c_last[0], atol=1e-6)
print("hand-written LSTM = nn.LSTM (outputs and the cell state)")

# %% [markdown]
# **GRU**(Cho et al., 2014)는 LSTM을 줄인 것입니다. 셀 상태 없이 갱신 게이트 $z_t$로 이전
# 상태와 새 후보를 섞습니다: $h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$. 게이트가 두
# 개라 조금 빠르고, 많은 문제에서 LSTM과 비슷한 성능을 냅니다. 직접 구현은 연습 문제 1입니다.
#
# ## 4. 문자 단위 언어 모델: 셰익스피어 흉내 내기
#
# 언어 모델은 "지금까지의 글 다음에 올 토큰"의 확률을 예측합니다. 여기서 토큰은 문자
# 하나입니다. 학습 예제는 글에서 잘라 낸 창(window)이고, 정답은 같은 창을 한 글자 밀어 놓은
# 것입니다. `ShakespeareDataModule`(nanoGPT와 같은 90/10 분할)과 `RNNLanguageModel`(LSTM),
# 그리고 RNN과 GPT를 똑같이 학습시키는 `LanguageModel` LightningModule을 씁니다.

# %%
from litlab.common.language_model import LanguageModel
from litlab.sequence.lm.data import ShakespeareDataModule
from litlab.sequence.lm.models import RNNLanguageModel

text_dm = ShakespeareDataModule(tokenizer="char", block_size=64, batch_size=32,
                                steps_per_epoch=LM_STEPS, val_batches=2 if TINY else 20)
text_dm.setup()
tok = text_dm.tokenizer
print(f"{tok.vocab_size} characters:", repr("".join(tok.token_strings(list(range(tok.vocab_size))))))
x0, y0 = next(iter(text_dm.train_dataloader()))
print("input :", repr(tok.decode(x0[0, :40].tolist())))
print("target:", repr(tok.decode(y0[0, :40].tolist())), "(the same text, one character later)")

# %%
torch.manual_seed(SEED)
lm = LanguageModel(RNNLanguageModel(vocab_size=tok.vocab_size, cell="lstm", embed_dim=128,
                                    hidden_size=256, num_layers=1, dropout=0.0),
                   lr=3e-3, warmup_steps=20, weight_decay=0.1)
trainer = quiet_trainer(max_epochs=1, gradient_clip_val=1.0)
t0 = time.perf_counter()
trainer.fit(lm, datamodule=text_dm)
val = trainer.callback_metrics
print(f"{LM_STEPS} steps in {time.perf_counter() - t0:.0f} s: val loss {val['val/loss']:.3f} "
      f"({val['val/bpc']:.2f} bits per character, perplexity {val['val/ppl']:.1f})")
row = readme_row("sequence/shakespeare_char_lstm")
print(f"README, the full recipe ({row[4]}): {row[2]}")

# %% [markdown]
# 손실 1.5는 "다음 글자를 평균적으로 약 $e^{1.5} \approx 4.5$개 후보 중에서 고르는 정도로
# 확신한다"는 뜻입니다(퍼플렉시티). 짧게 학습한 모델도 단어와 대사 형식을 흉내 냅니다.
#
# ### 샘플링: 온도와 top-k
#
# 다음 글자는 확률분포에서 **뽑습니다**. 점수(logit)를 온도 $T$로 나눈 뒤 소프트맥스를
# 취하면, $T < 1$은 분포를 날카롭게(안전하지만 반복적), $T > 1$은 평평하게(다양하지만 실수가
# 많음) 만듭니다. top-k는 가장 가능성 높은 $k$개 밖의 토큰을 지웁니다. 손으로 쓴 필터가
# litlab의 `sampling.filter_logits`(생성 명령, 웹 앱이 모두 쓰는 것)와 같은지 확인합니다.

# %%
from litlab.common.sampling import filter_logits

logits = torch.randn(4, tok.vocab_size)
k = 5
kth = logits.topk(k, dim=1).values[:, -1:]  # (B, 1): the k-th largest score of each row
by_hand = logits.masked_fill(logits < kth, float("-inf"))
assert torch.equal(by_hand, filter_logits(logits, top_k=k))
print("top-k by hand = litlab.common.sampling.filter_logits")

prompt = torch.tensor([tok.encode("ROMEO:")])
for temperature in (0.5, 1.0, 1.5):
    g = torch.Generator().manual_seed(SEED)
    out = lm.generate(prompt, max_new_tokens=120, temperature=temperature, top_k=None, generator=g)
    print(f"--- temperature {temperature}\n{tok.decode(out[0].tolist())}\n")

# %% [markdown]
# 같은 일을 명령줄에서는 `litlab generate --ckpt <체크포인트> --prompt "ROMEO:"`로 합니다.
#
# ## 5. 감성 분석: 한국어와 영어, 어떤 단어가 판단을 이끌었나
#
# 영화 리뷰의 긍정/부정을 분류합니다. 한국어는 네이버 영화 리뷰(NSMC), 영어는 SST-2입니다.
# 모델은 양방향 GRU/LSTM + 어텐션 풀링(`BiRNNClassifier`), 학습은 `TextClassifier`입니다.
# DataModule이 훈련 텍스트로만 BPE 토크나이저를 학습합니다(한국어는 한글 음절 단위).
# 시간을 아끼려고 리뷰 `TEXT_SUBSET`개, 한 에포크만 학습합니다. 전체 결과는 README에 있습니다.

# %%
from litlab.sequence.sentiment.data import NSMCDataModule, SST2DataModule
from litlab.sequence.sentiment.models import BiRNNClassifier
from litlab.sequence.sentiment.module import TextClassifier


def train_sentiment(dm, cell):
    """One epoch of a BiRNN + attention pooling on ``dm``; (model, test metrics, seconds)."""
    dm.setup()
    torch.manual_seed(SEED)
    net = BiRNNClassifier(vocab_size=dm.vocab_size, num_classes=2, embed_dim=128, hidden_size=128,
                          cell=cell, dropout=0.3, pack=False, pad_id=dm.pad_id)
    model = TextClassifier(net, lr=3e-3, weight_decay=0.01)
    trainer = quiet_trainer(max_epochs=1, gradient_clip_val=1.0)
    t0 = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    seconds = time.perf_counter() - t0
    scores = trainer.test(model, datamodule=dm, verbose=False)[0]
    return model.eval(), scores, seconds


nsmc = NSMCDataModule(batch_size=128, max_length=96, vocab_size=8000, subset=TEXT_SUBSET,
                      val_size=40 if TINY else 2000)
sst2 = SST2DataModule(batch_size=64, max_length=64, vocab_size=8000, lowercase=True,
                      subset=TEXT_SUBSET, val_size=40 if TINY else 2000)
ko_model, ko_scores, ko_time = train_sentiment(nsmc, "gru")
en_model, en_scores, en_time = train_sentiment(sst2, "lstm")
for name, s, sec, key in [("NSMC (Korean)", ko_scores, ko_time, "sequence/nsmc_bilstm"),
                          ("SST-2 (English)", en_scores, en_time, "sequence/sst2_bilstm")]:
    full = readme_row(key)
    print(f"{name:<16} test accuracy {s['test/acc'] * 100:.2f} % (1 epoch on "
          f"{TEXT_SUBSET or 'tiny'} reviews, {sec:.0f} s) | README, full data: {full[2]}")

# %% [markdown]
# ### 토큰 기여도: 통합 그래디언트(Integrated Gradients)
#
# "어떤 단어가 긍정 판단을 밀었나?"에 답하는 방법 중 하나가 통합 그래디언트(Sundararajan et
# al., 2017)입니다. 아무 정보 없는 기준 입력 $x'$(모든 토큰을 패딩으로 바꾼 것)에서 실제
# 입력 $x$까지 임베딩을 직선으로 옮겨 가며 기울기를 평균하고, 이동량을 곱합니다.
#
# $$\mathrm{IG}_i = (x_i - x'_i)\int_0^1 \frac{\partial F(x' + \alpha(x - x'))}{\partial x_i}\,d\alpha$$
#
# 토큰 하나의 점수는 그 토큰 임베딩 차원들의 합입니다. 모든 점수의 합은 $F(x) - F(x')$와
# 같아야 합니다(완전성). 적분을 가우스-르장드르 구적법으로 직접 계산해, litlab의
# `integrated_gradients`(captum, 콜백·`litlab explain`·웹 앱이 쓰는 것)와 비교합니다.

# %%
import numpy as np

from litlab.common.attribution import integrated_gradients


def ig_by_hand(model, ids, lengths, pad_id, target, n_steps=32):
    """Per-token integrated gradients (B, T) at the embedding layer, Gauss-Legendre rule."""
    emb = model.embedding_layer()
    with torch.no_grad():
        e_x, e_base = emb(ids), emb(torch.full_like(ids, pad_id))  # (B, T, E) each
    nodes, weights = np.polynomial.legendre.leggauss(n_steps)  # on [-1, 1]
    total = torch.zeros_like(e_x)
    for a, w in zip((nodes + 1) / 2, weights / 2):  # moved to [0, 1]
        point = (e_base + float(a) * (e_x - e_base)).requires_grad_(True)
        hook = emb.register_forward_hook(lambda m, i, o, p=point: p)  # replace the embeddings
        try:
            logits = model(ids, lengths)
        finally:
            hook.remove()
        grad, = torch.autograd.grad(logits[torch.arange(len(ids)), target].sum(), point)
        total += float(w) * grad
    scores = ((e_x - e_base) * total).sum(dim=-1)  # (B, T)
    return scores * (torch.arange(ids.shape[1]) < lengths[:, None])


texts = ["연기도 좋고 스토리도 감동적이었다", "시간 낭비였다 너무 지루하고 뻔하다"]
ids, lengths = nsmc.encode_texts(texts)
target = ko_model(ids, lengths).argmax(dim=1)
ours = ig_by_hand(ko_model, ids, lengths, nsmc.pad_id, target)
theirs = integrated_gradients(ko_model, ko_model.embedding_layer(), ids, lengths, nsmc.pad_id,
                              target=target, n_steps=32)
print("largest difference, by hand vs litlab:", (ours - theirs.scores).abs().max().item())
assert torch.allclose(ours, theirs.scores, atol=1e-4)
with torch.no_grad():
    gap = (ko_model(ids, lengths) - ko_model(torch.full_like(ids, nsmc.pad_id), lengths))
print("completeness: sum of scores", ours.sum(dim=1).numpy().round(3),
      "vs F(x) - F(baseline)", gap[torch.arange(2), target].numpy().round(3))

# %% [markdown]
# 이제 litlab의 `explain_texts`(명령 `litlab explain`과 웹 앱이 쓰는 함수)로 문장의 **단어**마다
# 기여도를 그립니다. 초록색은 예측한 클래스 쪽으로 민 단어, 빨간색은 반대쪽으로 민 단어입니다.

# %%
from litlab.common.explain import explain_texts

for model, dm, sentences in [
    (ko_model, nsmc, ["연기도 좋고 스토리도 감동적이었다", "시간 낭비였다 너무 지루하고 뻔하다"]),
    (en_model, sst2, ["a wonderful , moving film with great acting", "dull , predictable and far too long"]),
]:
    for explanation in explain_texts(model, dm, sentences, n_steps=32):
        fig = explanation.figures["attributions"]
        fig.set_size_inches(7, 1.1)
        display(fig)  # noqa: F821  (IPython's display)
        for f in explanation.figures.values():
            plt.close(f)

# %% [markdown]
# 잘 학습된 모델이라면 "감동적", "좋고", "wonderful"은 긍정 쪽으로, "지루하고", "낭비",
# "dull"은 부정 쪽으로 밉니다. 짧게 학습한 모델이라 점수가 고르지 않을 수 있습니다. 웹 앱
# (06 노트북)에서 같은 그림을 내 문장으로 볼 수 있습니다.
#
# ## 6. 시계열 예측: 항공 승객 수
#
# 1949~1960년의 월별 항공 승객 수를 지난 24개월로 다음 12개월을 한 번에 예측합니다
# (`LSTMForecaster`, `Forecaster`). 시계열은 **시간 순서대로** 나눕니다(훈련 1949~57, 검증
# 1958, 테스트 1959~60). 섞으면 미래로 과거를 맞히는 셈이 됩니다. 비교 기준은 "내년 이맘때 =
# 올해 이맘때"라는 **계절 단순 예측**입니다. 모델이 이것보다 못하면 쓸 이유가 없습니다.

# %%
from litlab.common.callbacks.forecast_plot import forecast_figure
from litlab.sequence.timeseries.data import ForecastDataModule
from litlab.sequence.timeseries.models import LSTMForecaster
from litlab.sequence.timeseries.module import Forecaster

series = ForecastDataModule(series="airline", batch_size=16)
torch.manual_seed(SEED)
forecaster = Forecaster(LSTMForecaster(horizon=12, hidden=64, layers=1, relative=True),
                        lr=3e-3, weight_decay=1e-4)
trainer = quiet_trainer(max_epochs=FORECAST_EPOCHS, gradient_clip_val=1.0, log_every_n_steps=5)
t0 = time.perf_counter()
trainer.fit(forecaster, datamodule=series)
scores = trainer.test(forecaster, datamodule=series, verbose=False)[0]
print(f"{FORECAST_EPOCHS} epochs in {time.perf_counter() - t0:.0f} s")
print(f"test MAE {scores['test/mae']:.1f} passengers (seasonal naive "
      f"{scores['test/mae_seasonal_naive']:.1f}), RMSE {scores['test/rmse']:.1f} "
      f"(naive {scores['test/rmse_seasonal_naive']:.1f})")
print("README:", readme_row("sequence/airline_lstm")[2])

# %%
history, _, origins = series.windows("test")
keep = ((origins - origins[0]) % series.horizon == 0).nonzero().flatten()  # one horizon apart
forecaster.eval()
with torch.no_grad():
    pred = series.inverse_transform(forecaster(history[keep]))
fig = forecast_figure(series.times, series.values.float(), origins[keep].tolist(), pred,
                      series.seasonal_naive(history[keep]), series.span("test"), context=36,
                      title="airline passengers: test span, model vs seasonal naive")
fig.set_size_inches(8, 3)
plt.show()  # the figure once (a bare `fig` would show it twice)

# %% [markdown]
# ## 정리
#
# - RNN은 같은 가중치로 한 스텝씩 상태를 갱신합니다. 손으로 쓴 식이 `nn.RNN`, `nn.LSTM`과
#   같습니다.
# - 바닐라 RNN의 기울기는 거리에 따라 기하급수적으로 사라집니다. LSTM/GRU는 덧셈으로
#   기억을 이어 가서 먼 과거까지 배웁니다.
# - 언어 모델은 "다음 토큰 맞히기"이고, 샘플링 온도와 top-k로 글의 성격을 조절합니다.
# - 통합 그래디언트로 어떤 단어가 판단을 이끌었는지 볼 수 있습니다(완전성으로 검산).
# - 시계열은 시간 순서로 나누고, 항상 단순한 기준(계절 단순 예측)과 비교합니다.
#
# 다음: **05_transformer**. 순환 없이 어텐션만으로 순서를 다루는 Transformer입니다.
#
# ## 연습 문제
#
# 1. **GRU를 손으로.** `nn.GRU`의 가중치(게이트 순서 `r, z, n`)로 한 스텝씩 계산해 출력과
#    비교하세요. 식: $r = \sigma(W_{ir}x + b_{ir} + W_{hr}h + b_{hr})$, $z$도 같은 꼴,
#    $n = \tanh(W_{in}x + b_{in} + r \odot (W_{hn}h + b_{hn}))$, $h' = (1 - z) \odot n + z \odot h$.
# 2. **top-k의 효과.** 온도 1.0에서 `top_k=5`로 샘플링해 위의 `top_k=None` 결과와 비교하세요.
# 3. **내 리뷰 설명하기.** 한국어 모델에 직접 쓴 리뷰 두 개를 넣고 단어 기여도를 그려 보세요.
#    부정어("안", "못")는 어떻게 처리되나요?
# 4. **태양 흑점.** `ForecastDataModule(series="sunspots")`(11년 주기, 지평 11년)로 예측하고
#    계절 단순 예측과 비교하세요. 주기가 9~14년으로 흔들리면 단순 예측은 어떻게 될까요?
#
# ## 풀이

# %% jupyter={"source_hidden": true} tags=["solution"]
# 1. PyTorch stacks the GRU's gates as r, z, n
gru = nn.GRU(input_size=3, hidden_size=5, batch_first=True)
Wir, Wiz, Win = gru.weight_ih_l0.chunk(3)
Whr, Whz, Whn = gru.weight_hh_l0.chunk(3)
bir, biz, bin_ = gru.bias_ih_l0.chunk(3)
bhr, bhz, bhn = gru.bias_hh_l0.chunk(3)
h, outs = torch.zeros(2, 5), []
for t in range(x.shape[1]):
    xt = x[:, t]
    r = torch.sigmoid(xt @ Wir.T + bir + h @ Whr.T + bhr)
    z = torch.sigmoid(xt @ Wiz.T + biz + h @ Whz.T + bhz)
    n = torch.tanh(xt @ Win.T + bin_ + r * (h @ Whn.T + bhn))
    h = (1 - z) * n + z * h
    outs.append(h)
assert torch.allclose(torch.stack(outs, dim=1), gru(x)[0], atol=1e-6)
print("hand-written GRU = nn.GRU")

# %% jupyter={"source_hidden": true} tags=["solution"]
# 2. top-k = 5 keeps only the five likeliest characters at every step: fewer odd letters
g = torch.Generator().manual_seed(SEED)
out = lm.generate(prompt, max_new_tokens=120, temperature=1.0, top_k=5, generator=g)
print(tok.decode(out[0].tolist()))

# %% jupyter={"source_hidden": true} tags=["solution"]
# 3. your own reviews (a short, under-trained model: negations are often missed)
for explanation in explain_texts(ko_model, nsmc, ["배우는 좋은데 영화는 안 재밌다",
                                                  "기대 안 했는데 정말 최고였다"], n_steps=32):
    print(explanation.top)
    fig = explanation.figures["attributions"]
    fig.set_size_inches(7, 1.1)
    display(fig)  # noqa: F821
    plt.close(fig)

# %% jupyter={"source_hidden": true} tags=["solution"]
# 4. sunspots: the cycle length drifts, so "the last 11 years again" falls out of phase
spots = ForecastDataModule(series="sunspots", batch_size=32)
torch.manual_seed(SEED)
spot_model = Forecaster(LSTMForecaster(horizon=11, hidden=64, relative=False), lr=3e-3)
trainer = quiet_trainer(max_epochs=3 if TINY else 60, gradient_clip_val=1.0, log_every_n_steps=5)
trainer.fit(spot_model, datamodule=spots)
s = trainer.test(spot_model, datamodule=spots, verbose=False)[0]
print(f"sunspots test MAE {s['test/mae']:.1f} vs seasonal naive {s['test/mae_seasonal_naive']:.1f}")
