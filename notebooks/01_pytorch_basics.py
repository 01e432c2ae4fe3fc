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
# # 01. PyTorch 기초: 텐서, 장치, 자동 미분, 첫 학습 루프
#
# scikit-learn에서는 `model.fit(X, y)` 한 줄이면 학습이 끝났습니다. PyTorch에서는 그
# 한 줄 안에 숨어 있던 것들(데이터를 담는 **텐서**, 계산을 어디서 할지 정하는 **장치**,
# 기울기를 구해 주는 **자동 미분**, 그리고 손실을 줄여 가는 **학습 루프**)을 직접 다룹니다.
# 처음에는 번거로워 보이지만, 이 네 가지만 알면 CNN도 Transformer도 같은 틀 안에서 만들 수
# 있습니다.
#
# 이 노트북에서 할 일:
#
# 1. 텐서: 모양(shape), 브로드캐스팅, 자료형(dtype)
# 2. 장치: CPU, CUDA, MPS, 그리고 `litlab env`가 알려 주는 것
# 3. 자동 미분: 손으로 구한 도함수와 `backward()`의 결과 비교, 계산 그래프, `no_grad`
# 4. 첫 학습 루프: scikit-learn 데이터 세트에서 선형 분류기를 직접 학습하고
#    `LogisticRegression`과 같은 분할에서 비교
# 5. 같은 모델을 TensorFlow/Keras로 (설치되어 있을 때만 실행)
#
# 마지막에 연습 문제와 풀이가 있습니다. 2코어 CPU에서 1분 안쪽으로 끝납니다.

# %% tags=["parameters"]
# 매개변수 셀: 테스트는 LITLAB_NOTEBOOK_TINY=1 로 이 노트북을 아주 작게(에포크 몇 번) 실행합니다.
import os

TINY = os.environ.get("LITLAB_NOTEBOOK_TINY") == "1"
SEED = 0

# %%
import importlib.util
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

plt.rcParams.update({"figure.dpi": 80, "figure.figsize": (5, 3)})
warnings.filterwarnings("ignore", message=".*IProgress")  # no widgets needed for progress bars
torch.manual_seed(SEED)
print("torch", torch.__version__)

# %% [markdown]
# ## 1. 텐서: GPU에서도 돌아가는 NumPy 배열
#
# 텐서(tensor)는 NumPy의 `ndarray`와 거의 같습니다. 다른 점은 두 가지입니다. GPU 같은
# 다른 장치로 옮길 수 있고, 자신이 어떤 계산으로 만들어졌는지 기억해서 기울기를 구할 수
# 있습니다. 먼저 NumPy처럼 써 봅니다.

# %%
x = torch.arange(12, dtype=torch.float32).reshape(3, 4)  # (3, 4): 3 rows, 4 columns
print(x)
print("shape", tuple(x.shape), "| dtype", x.dtype, "| device", x.device)
print("sum over rows (dim=0):", x.sum(dim=0))  # (4,): one value per column
print("mean of each row (dim=1):", x.mean(dim=1))  # (3,)

a = np.ones((2, 3))
t = torch.from_numpy(a)  # shares memory with the NumPy array
a[0, 0] = 100.0
print("from_numpy shares memory:", t[0, 0].item())

# %% [markdown]
# `dim=0`은 "0번 축을 따라 줄인다"는 뜻입니다. (3, 4) 텐서를 `dim=0`으로 더하면 행이 사라지고
# 열마다 하나씩, 값 4개가 남습니다. 딥러닝 코드에서 가장 흔한 버그는 모양이 맞지 않는
# 것이라서, 이 저장소의 코드는 주석에 `# (B, C, H, W)`처럼 모양을 적어 둡니다.
#
# ### 브로드캐스팅
#
# 모양이 다른 두 텐서를 연산하면, 크기가 1인 축이 상대에 맞게 늘어납니다(복사는 하지
# 않습니다). scikit-learn의 `StandardScaler`가 하는 일, 즉 열마다 평균을 빼고 표준편차로
# 나누는 계산이 브로드캐스팅 한 줄입니다.

# %%
col = torch.tensor([[1.0], [2.0], [3.0]])  # (3, 1)
row = torch.tensor([[10.0, 20.0, 30.0, 40.0]])  # (1, 4)
print((col + row).shape)  # (3, 1) + (1, 4) -> (3, 4)

X = torch.randn(100, 5) * 3 + 7  # 100 samples, 5 features
Z = (X - X.mean(dim=0)) / X.std(dim=0, unbiased=False)  # (100, 5) - (5,) -> (100, 5)

from sklearn.preprocessing import StandardScaler

Z_sklearn = StandardScaler().fit_transform(X.numpy())
assert np.allclose(Z.numpy(), Z_sklearn, atol=1e-5)
print("broadcasting = StandardScaler:", np.abs(Z.numpy() - Z_sklearn).max())

# %% [markdown]
# ### 자료형(dtype)
#
# 신경망의 기본 자료형은 32비트 실수(`float32`)이고, 분류 레이블은 64비트 정수(`int64`,
# `torch.long`)입니다. NumPy의 기본값인 `float64`는 두 배 느리고 메모리도 두 배 쓰지만
# 신경망 학습에는 정밀도가 남습니다. 반대로 GPU는 16비트(`bfloat16`, `float16`)로 더 빨리
# 계산하는데, 정밀도가 얼마나 떨어지는지 보세요.

# %%
one = torch.tensor(1.0)
for dtype in (torch.float64, torch.float32, torch.bfloat16, torch.float16):
    step = torch.finfo(dtype).eps  # the gap between 1 and the next number
    print(f"{str(dtype):15} 1 + 0.001 = {(one.to(dtype) + 0.001).item():.6f}   eps {step:.1e}")
labels = torch.tensor([3, 1, 4])
print("labels:", labels.dtype)

# %% [markdown]
# `bfloat16`에서는 1 + 0.001이 그냥 1입니다. 그래서 혼합 정밀도(mixed precision) 학습은
# 행렬 곱만 16비트로 하고, 가중치와 누적은 32비트로 유지합니다. Lightning의
# `precision="bf16-mixed"`가 바로 그것입니다.
#
# ## 2. 장치: CPU, CUDA, MPS
#
# 텐서와 모델은 한 장치(device)에 있고, 연산의 두 피연산자는 같은 장치에 있어야 합니다.
# NVIDIA GPU는 `cuda`, Apple 실리콘의 GPU는 `mps`, 나머지는 `cpu`입니다. 관례적인 선택
# 코드는 다음과 같고, litlab도 같은 규칙을 씁니다(`litlab.common.env.pick_accelerator`).

# %%
from litlab.common.env import pick_accelerator

if torch.cuda.is_available():
    device = "cuda"
elif torch.backends.mps.is_available():
    device = "mps"
else:
    device = "cpu"
assert device == pick_accelerator()  # the same rule as the Trainer's accelerator="auto"
print("device:", device)

w = torch.randn(3, 3).to(device)  # .to() copies to the device (a no-op if already there)
print((w @ w).device)

# %% [markdown]
# ### `litlab env`가 알려 주는 것
#
# 터미널에서 `litlab env`를 실행하면 아래 보고서가 나옵니다(같은 함수를 여기서 부릅니다).
# 한 줄씩 읽어 보면:
#
# - **torch / CUDA build**: 설치된 PyTorch가 CUDA용으로 빌드되었는지. CUDA 빌드여도 GPU가
#   없으면 `cuda not available`입니다.
# - **cpu**: 코어 수, PyTorch가 쓰는 스레드 수, 그리고 CPU가 지원하는 SIMD 명령(`avx2`,
#   `avx512_bf16`, `amx_bf16`). AMX나 AVX-512 BF16이 없는 CPU에서는 bf16 행렬 곱이 fp32보다
#   느립니다. 아래 `cpu bf16` 줄이 이 컴퓨터에서 직접 잰 배수입니다.
# - **trainer**: `accelerator="auto"`가 무엇을 고르는지, 그리고 정밀도 기본값. CUDA GPU에서는
#   `bf16-mixed`(또는 `16-mixed`), CPU와 MPS에서는 `32-true`입니다. 위의 측정이 CPU에서
#   혼합 정밀도를 기본값으로 두지 않는 이유입니다.

# %%
from litlab.common.env import report

print(report())

# %% [markdown]
# ## 3. 자동 미분(autograd)
#
# `requires_grad=True`인 텐서로 계산하면 PyTorch는 어떤 연산을 했는지 **계산 그래프**로
# 기록합니다. 결과에 `backward()`를 부르면 그래프를 거꾸로 따라가며 연쇄 법칙으로 기울기를
# 구해 `.grad`에 넣습니다. 손으로 구한 도함수와 같은지 확인해 봅시다.
#
# $f(x) = x^3 + 2x$ 이면 $f'(x) = 3x^2 + 2$ 입니다.

# %%
x = torch.linspace(-2, 2, 9, requires_grad=True)
f = x**3 + 2 * x
f.sum().backward()  # d(sum f)/dx_i = f'(x_i): one backward pass for all points

by_hand = 3 * x.detach() ** 2 + 2
print("backward:", x.grad)
print("by hand: ", by_hand)
assert torch.allclose(x.grad, by_hand)

# %% [markdown]
# 조금 더 신경망다운 예: 입력 $x$, 가중치 $w$, 편향 $b$로 $y = \sigma(wx + b)$를 만들고
# 정답 $t$와의 제곱 오차 $L = (y - t)^2$를 줄이고 싶습니다. 연쇄 법칙으로
#
# $$\frac{\partial L}{\partial w} = 2(y - t)\,\sigma'(z)\,x,\qquad
#   \frac{\partial L}{\partial b} = 2(y - t)\,\sigma'(z),\qquad \sigma'(z) = y(1 - y)$$
#
# 입니다. `backward()`와 비교합니다.

# %%
xv, tv = torch.tensor(1.5), torch.tensor(1.0)
w = torch.tensor(0.8, requires_grad=True)
b = torch.tensor(-0.3, requires_grad=True)
z = w * xv + b
y = torch.sigmoid(z)
loss = (y - tv) ** 2
loss.backward()

with torch.no_grad():
    dL_dw = 2 * (y - tv) * y * (1 - y) * xv
    dL_db = 2 * (y - tv) * y * (1 - y)
print(f"dL/dw  backward {w.grad.item():.6f}  by hand {dL_dw.item():.6f}")
print(f"dL/db  backward {b.grad.item():.6f}  by hand {dL_db.item():.6f}")
assert torch.allclose(w.grad, dL_dw) and torch.allclose(b.grad, dL_db)

# %% [markdown]
# ### 계산 그래프
#
# 그래프는 결과 텐서의 `grad_fn`에서 시작해 입력 쪽으로 이어집니다. 위 손실의 그래프를
# 따라가 보면 우리가 쓴 식이 거꾸로 보입니다(제곱 ← 빼기 ← 시그모이드 ← 더하기 ← 곱하기).

# %%
def walk(fn, depth=0):
    """Print the backward graph from a grad_fn towards the leaves."""
    if fn is None:
        return
    print("  " * depth + type(fn).__name__)
    for child, _ in fn.next_functions:
        walk(child, depth + 1)


walk(loss.grad_fn)

# %% [markdown]
# 세 가지를 꼭 기억하세요.
#
# - **기울기는 누적됩니다.** `backward()`를 두 번 부르면 `.grad`에 더해집니다. 그래서 학습
#   루프는 매 스텝 `optimizer.zero_grad()`로 비웁니다.
# - **평가할 때는 `torch.no_grad()`** 안에서 계산합니다. 그래프를 기록하지 않으니 메모리와
#   시간이 줄어듭니다.
# - **`.detach()`** 는 같은 값을 가진, 그래프에서 떨어진 텐서를 돌려줍니다.

# %%
w.grad = None
for _ in range(2):
    ((torch.sigmoid(w * xv + b) - tv) ** 2).backward()
print("two backward calls accumulate:", w.grad.item(), "=", 2 * dL_dw.item())

with torch.no_grad():
    y_eval = torch.sigmoid(w * xv + b)
print("inside no_grad, requires_grad =", y_eval.requires_grad)

# %% [markdown]
# 손으로 도함수를 구하기 어려운 함수는 유한 차분(아주 조금 움직여 보고 기울기를 재는 것)과
# 비교하면 됩니다. `torch.autograd.gradcheck`가 그 일을 합니다(float64에서).

# %%
def gelu_like(v):
    return v * torch.sigmoid(1.702 * v)


v = torch.randn(6, dtype=torch.float64, requires_grad=True)
print("gradcheck:", torch.autograd.gradcheck(gelu_like, (v,)))

# %% [markdown]
# ## 4. 첫 학습 루프: 선형 분류기 vs scikit-learn
#
# scikit-learn에 들어 있는 손글씨 숫자 데이터(`load_digits`: 8x8 이미지 1,797장, 10개 클래스,
# 다운로드 필요 없음)로 **소프트맥스 회귀**, 즉 다중 클래스 로지스틱 회귀를 학습합니다.
# scikit-learn의 `LogisticRegression`과 **같은 모델**입니다. 차이는 최적화 방법뿐이므로
# 같은 분할에서 비슷한 정확도가 나와야 합니다.
#
# 먼저 데이터를 나누고, 훈련 세트로만 표준화 통계를 구합니다(테스트 세트의 정보가 새지
# 않도록).

# %%
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

digits = load_digits()
X_train, X_test, y_train, y_test = train_test_split(
    digits.data, digits.target, test_size=0.25, random_state=SEED, stratify=digits.target
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
print("train", X_train.shape, "test", X_test.shape)

t0 = time.perf_counter()
sk = LogisticRegression(max_iter=1000).fit(X_train, y_train)
sk_time = time.perf_counter() - t0
sk_acc = sk.score(X_test, y_test)
print(f"scikit-learn LogisticRegression: test accuracy {sk_acc:.4f} ({sk_time:.2f} s)")

# %% [markdown]
# 이제 PyTorch로 같은 일을 합니다. 모델은 `nn.Linear(64, 10)` 하나입니다. 입력 64개(픽셀)를
# 받아 클래스마다 점수(logit) 10개를 냅니다.
#
# 손실은 **교차 엔트로피**입니다. 점수를 소프트맥스로 확률로 바꾸고, 정답 클래스 확률의
# 음의 로그를 평균합니다. 직접 쓴 식이 `F.cross_entropy`와 같은지 먼저 확인합니다.
# (`logsumexp`를 쓰는 이유: 큰 점수에서 `exp`가 넘치지 않게 하려고.)

# %%
Xtr = torch.tensor(X_train, dtype=torch.float32)
Xte = torch.tensor(X_test, dtype=torch.float32)
ytr = torch.tensor(y_train, dtype=torch.long)
yte = torch.tensor(y_test, dtype=torch.long)


def cross_entropy_by_hand(logits, target):
    """Mean of -log softmax(logits)[target]; logits (B, K), target (B,)."""
    log_probs = logits - logits.logsumexp(dim=1, keepdim=True)  # (B, K)
    return -log_probs[torch.arange(len(target)), target].mean()


probe = torch.randn(8, 10)
assert torch.allclose(cross_entropy_by_hand(probe, ytr[:8]), F.cross_entropy(probe, ytr[:8]))
print("cross-entropy by hand = F.cross_entropy")

# %% [markdown]
# 옵티마이저는 기울기를 보고 가중치를 고칩니다. 가장 단순한 확률적 경사 하강법(SGD)은
# $w \leftarrow w - \eta \nabla_w L$ 입니다. 손으로 한 스텝을 밟은 결과가
# `torch.optim.SGD`의 한 스텝과 같은지도 확인합니다.

# %%
torch.manual_seed(SEED)
model = nn.Linear(64, 10)
manual = nn.Linear(64, 10)
manual.load_state_dict(model.state_dict())  # the same starting weights

lr = 0.1
opt = torch.optim.SGD(model.parameters(), lr=lr)
F.cross_entropy(model(Xtr[:32]), ytr[:32]).backward()
opt.step()

F.cross_entropy(manual(Xtr[:32]), ytr[:32]).backward()
with torch.no_grad():
    for p in manual.parameters():
        p -= lr * p.grad  # w <- w - lr * dL/dw
assert all(torch.allclose(p, q) for p, q in zip(model.parameters(), manual.parameters()))
print("one SGD step by hand = torch.optim.SGD")

# %% [markdown]
# 이제 전체 학습 루프입니다. scikit-learn의 `fit` 안에서 일어나던 일을 한 줄씩 씁니다.
#
# 1. 에포크(epoch)마다 훈련 데이터를 섞고 **미니배치**로 나눕니다.
# 2. 배치마다: 순전파(forward) → 손실 → `zero_grad` → `backward` → `step`.
# 3. 에포크가 끝나면 `no_grad` 안에서 테스트 정확도를 잽니다.
#
# `weight_decay`는 L2 규제로, `LogisticRegression`의 기본 규제(`C=1.0`)와 같은 역할을 합니다.

# %%
def accuracy(net, X, y):
    with torch.no_grad():
        return (net(X).argmax(dim=1) == y).float().mean().item()


torch.manual_seed(SEED)
model = nn.Linear(64, 10)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
batch_size, epochs = 64, (3 if TINY else 30)
history = []

t0 = time.perf_counter()
for _ in range(epochs):
    order = torch.randperm(len(Xtr))  # shuffle every epoch
    total = 0.0
    for start in range(0, len(Xtr), batch_size):
        idx = order[start : start + batch_size]
        logits = model(Xtr[idx])  # (B, 10)
        loss = F.cross_entropy(logits, ytr[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    history.append((total / len(Xtr), accuracy(model, Xte, yte)))
torch_time = time.perf_counter() - t0
torch_acc = history[-1][1]
print(f"PyTorch linear classifier: test accuracy {torch_acc:.4f} ({torch_time:.2f} s)")

fig, ax = plt.subplots(1, 2, figsize=(8, 2.6))
ax[0].plot([h[0] for h in history])
ax[0].set(title="training loss", xlabel="epoch")
ax[1].plot([h[1] for h in history], label="PyTorch")
ax[1].axhline(sk_acc, color="tab:orange", ls="--", label="scikit-learn")
ax[1].set(title="test accuracy", xlabel="epoch")
ax[1].legend()
fig.tight_layout()

# %% [markdown]
# 같은 분할, 같은 모델(선형 + 소프트맥스)에서 두 결과를 나란히 놓습니다.

# %%
print(f"{'model':<38}{'test accuracy':>14}{'time':>9}")
print(f"{'scikit-learn LogisticRegression':<38}{sk_acc:>14.4f}{sk_time:>8.2f}s")
print(f"{'PyTorch nn.Linear + SGD (our loop)':<38}{torch_acc:>14.4f}{torch_time:>8.2f}s")
if not TINY:  # the same model: the accuracies agree within a couple of test digits
    assert abs(torch_acc - sk_acc) < 0.03

# %% [markdown]
# 정확도는 거의 같습니다. 같은 모델이니 당연한 결과이고, 이것이 이 절의 요점입니다.
# PyTorch가 더 좋은 모델을 주는 것이 아니라, **모델을 마음대로 바꿀 수 있는 틀**을 줍니다.
# `nn.Linear` 자리에 층을 쌓으면 신경망이 되고(연습 문제 3), 합성곱을 넣으면 CNN이
# 됩니다(03 노트북). 학습 루프는 그대로입니다. 02 노트북에서는 바로 이 루프를 PyTorch
# Lightning에 맡깁니다.
#
# ## 5. 같은 모델을 TensorFlow/Keras로
#
# Keras는 `compile`과 `fit`으로 scikit-learn에 가까운 사용감을 줍니다. PyTorch와의 대응은
# 다음과 같습니다.
#
# | PyTorch | Keras |
# |---|---|
# | `nn.Linear(64, 10)` | `keras.layers.Dense(10)` |
# | `F.cross_entropy(logits, y)` | `SparseCategoricalCrossentropy(from_logits=True)` |
# | `torch.optim.SGD(..., momentum=0.9)` | `keras.optimizers.SGD(momentum=0.9)` |
# | 직접 쓴 에포크/배치 루프 | `model.fit(X, y, epochs=..., batch_size=...)` |
# | `torch.no_grad()` + `argmax` | `model.evaluate(X, y)` |
#
# TensorFlow는 이 프로젝트의 의존성이 아니므로, 아래 셀은 TensorFlow가 설치된 환경에서만
# 실행됩니다(`pip install tensorflow`). 설치되어 있지 않으면 코드만 보여 줍니다.

# %%
KERAS_CODE = """
import tensorflow as tf
from tensorflow import keras

tf.random.set_seed(0)
keras_model = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(10)])
keras_model.compile(
    optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
keras_model.fit(X_train, y_train, epochs=epochs, batch_size=64, verbose=0)
keras_acc = keras_model.evaluate(X_test, y_test, verbose=0)[1]
print(f"Keras Dense(10): test accuracy {keras_acc:.4f}")
"""

if importlib.util.find_spec("tensorflow") is not None:
    exec(KERAS_CODE)
else:
    print("TensorFlow is not installed here, so the Keras version is shown, not run:")
    print(KERAS_CODE)

# %% [markdown]
# ## 정리
#
# - 텐서는 NumPy 배열 + 장치 + 자동 미분입니다. 모양과 자료형을 늘 확인하세요.
# - `backward()`는 연쇄 법칙을 대신 계산해 줄 뿐, 손으로 구한 값과 같습니다.
# - 학습 루프 = 섞기 → 배치 → 순전파 → 손실 → `zero_grad` → `backward` → `step`.
# - 같은 모델이면 PyTorch와 scikit-learn의 결과는 같습니다. 딥러닝의 힘은 모델을 바꿀
#   자유에서 나옵니다.
#
# 다음: **02_first_network_to_lightning**. MNIST에서 다층 신경망(MLP)을 직접 짠 루프로
# 학습한 뒤, 같은 모델을 LightningModule과 YAML 한 줄로 옮깁니다.
#
# ## 연습 문제
#
# 1. **브로드캐스팅.** 행렬 `A` (5, 3)과 `B` (4, 3)의 모든 행 쌍 사이의 제곱 거리 (5, 4)를
#    반복문 없이 구하고, `torch.cdist(A, B) ** 2`와 비교하세요.
# 2. **자동 미분.** $f(x) = \sin(x)\,e^{x}$의 도함수를 손으로 구하고 `backward()`와
#    비교하세요.
# 3. **은닉층 추가.** `nn.Linear(64, 10)` 대신 `nn.Sequential(nn.Linear(64, 128), nn.ReLU(),
#    nn.Linear(128, 10))`을 같은 루프로 학습해 정확도를 비교하세요.
# 4. **옵티마이저 바꾸기.** SGD 대신 `torch.optim.Adam(lr=1e-2)`로 학습하면 손실 곡선이
#    어떻게 달라지나요?
#
# 풀이는 아래에 있습니다. JupyterLab에서는 풀이 셀의 코드가 접혀 있으니, 먼저 풀어 본 뒤
# 펼쳐 보세요.
#
# ## 풀이

# %% jupyter={"source_hidden": true} tags=["solution"]
# 1. (5, 1, 3) - (1, 4, 3) -> (5, 4, 3), then sum the squares over the last axis
A, B = torch.randn(5, 3), torch.randn(4, 3)
d2 = ((A[:, None, :] - B[None, :, :]) ** 2).sum(dim=-1)  # (5, 4)
assert torch.allclose(d2, torch.cdist(A, B) ** 2, atol=1e-5)
print("pairwise squared distances:", tuple(d2.shape))

# %% jupyter={"source_hidden": true} tags=["solution"]
# 2. f'(x) = cos(x) e^x + sin(x) e^x
x = torch.linspace(-3, 3, 7, requires_grad=True)
(torch.sin(x) * torch.exp(x)).sum().backward()
with torch.no_grad():
    by_hand = (torch.cos(x) + torch.sin(x)) * torch.exp(x)
assert torch.allclose(x.grad, by_hand, atol=1e-5)
print("derivative of sin(x) e^x matches")

# %% jupyter={"source_hidden": true} tags=["solution"]
# 3. and 4. the same loop with a hidden layer, trained with SGD and with Adam
def train(net, make_optimizer, epochs):
    opt = make_optimizer(net.parameters())
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(Xtr))
        for start in range(0, len(Xtr), 64):
            idx = order[start : start + 64]
            loss = F.cross_entropy(net(Xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses, accuracy(net, Xte, yte)


torch.manual_seed(SEED)
runs = {}
for name, make in {
    "MLP + SGD": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "MLP + Adam": lambda p: torch.optim.Adam(p, lr=1e-2),
}.items():
    mlp = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    runs[name] = train(mlp, make, epochs)
    print(f"{name:<12} test accuracy {runs[name][1]:.4f}  (linear: {torch_acc:.4f})")

fig, ax = plt.subplots(figsize=(5, 2.6))
for name, (losses, _) in runs.items():
    ax.plot(np.convolve(losses, np.ones(10) / 10, mode="valid"), label=name)
ax.set(xlabel="step", ylabel="training loss (mean of 10)", yscale="log")
ax.legend()
fig.tight_layout()

# %% [markdown]
# 풀이 3, 4에 대한 설명: 은닉층이 있는 MLP는 픽셀 사이의 비선형 조합을 배울 수 있어서 선형
# 모델보다 조금 더 정확합니다(데이터가 작아서 차이는 크지 않습니다). Adam은 매개변수마다
# 학습률을 조절하므로 초반 손실이 SGD보다 빨리 떨어지는 경우가 많습니다. 다만 끝까지
# 학습하면 SGD가 따라오거나 앞서기도 합니다. "Adam이 항상 낫다"보다는 "Adam은 학습률을 덜
# 타서 시작하기 쉽다"로 기억하는 편이 정확합니다.
