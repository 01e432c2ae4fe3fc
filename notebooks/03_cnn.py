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
# # 03. CNN: 합성곱을 손으로, 그리고 CIFAR-10
#
# 02의 MLP는 이미지를 784개(MNIST) 또는 3,072개(CIFAR-10) 숫자의 나열로 봅니다. 이웃한 픽셀이
# 서로 관련 있다는 사실도, 고양이가 왼쪽에 있든 오른쪽에 있든 고양이라는 사실도 모릅니다.
# **합성곱 신경망(CNN)** 은 이 두 가지를 구조로 넣습니다. 작은 필터 하나를 이미지 전체에
# 밀며 같은 가중치를 모든 위치에서 씁니다(가중치 공유).
#
# 이 노트북에서 할 일:
#
# 1. 합성곱을 직접 구현하고 `nn.Conv2d`와 비교
# 2. 패딩, 스트라이드, 풀링에 따른 출력 크기 공식과 실제 모양 비교
# 3. CIFAR-10에서 CNN vs MLP: `litlab` 실행 결과와 이 노트북의 짧은 학습
# 4. 학습된 CNN의 특징 맵(feature map)과 Grad-CAM(직접 구현해 litlab의 것과 비교)
# 5. 전이 학습: ImageNet으로 학습된 신경망의 특징을 적은 데이터에
#
# 2코어 CPU에서 몇 분 걸립니다. 데이터는 CLI와 같은 데이터 루트(`DATA_DIR`)에서 읽습니다.

# %% tags=["parameters"]
# 매개변수 셀: 테스트는 LITLAB_NOTEBOOK_TINY=1 로 아주 작은 데이터와 몇 스텝만 실행합니다.
import os

TINY = os.environ.get("LITLAB_NOTEBOOK_TINY") == "1"
SEED = 0
EPOCHS = 1 if TINY else 2  # the short CNN and MLP runs on CIFAR-10
VAL_SIZE = 40 if TINY else 5000
TRANSFER_PER_CLASS = 4 if TINY else 100  # training images per class for transfer learning

# %%
import warnings

# notices that say nothing about this notebook (no widgets for progress bars, few workers, ...)
warnings.filterwarnings("ignore", message=".*(IProgress|does not have many workers|is an instance"
                        "|LeafSpec|smaller than the logging interval|args parameter is intended"
                        "|Skipping val loop).*")

import logging
import time
from pathlib import Path

import lightning as L
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import litlab.common.viz as viz  # litlab's figures; it selects a file-only backend,

# %matplotlib inline
# nearest: pixel images (32x32 CIFAR-10, attention maps) stay sharp and their PNGs small
plt.rcParams.update({"figure.dpi": 80, "image.interpolation": "nearest"})

# so the line above switches the notebook back to figures shown inline
REPO = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "pyproject.toml").exists())
WORK = Path(os.environ.get("LITLAB_NOTEBOOK_WORK", REPO))
os.environ.setdefault("DATA_DIR", str(REPO / "data"))  # the CLI's rule: $DATA_DIR, else ./data
os.environ["NO_COLOR"] = "1"  # Lightning's tables without terminal colour codes
for name in ("lightning.pytorch", "lightning.fabric"):  # short outputs: warnings only
    logging.getLogger(name).setLevel(logging.WARNING)
torch.manual_seed(SEED)

# %% [markdown]
# ## 1. 합성곱을 손으로
#
# 입력이 (채널 $C_{in}$, 높이 $H$, 너비 $W$)이고 필터가 $C_{out}$개, 각각 크기
# $C_{in} \times k \times k$일 때, 출력의 채널 $o$, 위치 $(i, j)$는
#
# $$y_{o,i,j} = b_o + \sum_{c}\sum_{u=0}^{k-1}\sum_{v=0}^{k-1} w_{o,c,u,v}\;
#   x_{c,\;i s + u,\;j s + v}$$
#
# 입니다($s$는 스트라이드, 입력은 먼저 가장자리에 0을 $p$줄 덧댑니다). 즉 필터를 한 위치에
# 올려놓고 겹치는 값끼리 곱해 더하는 것을 모든 위치에서 반복합니다. 그대로 코드로 옮기고
# `nn.Conv2d`와 비교합니다.

# %%
def conv2d_by_hand(x, weight, bias, stride=1, padding=0):
    """x (B, C_in, H, W), weight (C_out, C_in, k, k), bias (C_out,) -> (B, C_out, H', W')."""
    x = F.pad(x, (padding, padding, padding, padding))  # zeros around the border
    b, _, h, w = x.shape
    k = weight.shape[-1]
    h_out, w_out = (h - k) // stride + 1, (w - k) // stride + 1
    out = torch.empty(b, weight.shape[0], h_out, w_out)
    for i in range(h_out):
        for j in range(w_out):
            patch = x[:, :, i * stride : i * stride + k, j * stride : j * stride + k]  # (B, C_in, k, k)
            # one dot product per (image, filter): sum over channels and the k x k window
            out[:, :, i, j] = torch.einsum("bcuv,ocuv->bo", patch, weight) + bias
    return out


x = torch.randn(2, 3, 9, 9)
for stride, padding in [(1, 0), (1, 1), (2, 1), (3, 2)]:
    conv = nn.Conv2d(3, 8, kernel_size=3, stride=stride, padding=padding)
    ours = conv2d_by_hand(x, conv.weight, conv.bias, stride, padding)
    theirs = conv(x)
    assert ours.shape == theirs.shape and torch.allclose(ours, theirs, atol=1e-5)
    print(f"stride {stride}, padding {padding}: {tuple(ours.shape)} matches nn.Conv2d")

# %% [markdown]
# 필터의 값은 보통 학습으로 정해지지만, 손으로 정할 수도 있습니다. 가로 방향 밝기 변화에
# 반응하는 소벨(Sobel) 필터를 CIFAR-10 사진에 적용해 봅니다. 경계(윤곽)에서만 값이 큽니다.
# CNN의 첫 층은 학습 후 이런 경계 검출기와 비슷한 필터를 갖게 되는 경우가 많습니다.

# %%
from litlab.vision.data import CIFAR10DataModule

dm = CIFAR10DataModule(val_size=VAL_SIZE, batch_size=128)
dm.setup()
images, labels = dm.arrays("test")  # uint8 (N, 3, 32, 32)
print("classes:", dm.classes)

gray = images[:1].float().mean(dim=1, keepdim=True) / 255  # (1, 1, 32, 32)
sobel_x = torch.tensor([[[[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]]])  # (1, 1, 3, 3)
edges = conv2d_by_hand(gray, sobel_x, torch.zeros(1), padding=1)
fig, axes = plt.subplots(1, 3, figsize=(6, 2.2))
axes[0].imshow(images[0].permute(1, 2, 0))
axes[0].set_title(dm.classes[labels[0]], fontsize=9)
axes[1].imshow(gray[0, 0], cmap="gray")
axes[1].set_title("grey", fontsize=9)
axes[2].imshow(edges[0, 0].abs(), cmap="magma")
axes[2].set_title("|Sobel x|", fontsize=9)
for ax in axes:
    ax.axis("off")
fig.tight_layout()

# %% [markdown]
# ## 2. 출력 크기: 패딩, 스트라이드, 풀링
#
# 입력 크기 $n$, 커널 $k$, 패딩 $p$, 스트라이드 $s$이면 출력 크기는
#
# $$n_{out} = \left\lfloor \frac{n + 2p - k}{s} \right\rfloor + 1$$
#
# 입니다. 자주 쓰는 조합: $k=3, p=1, s=1$이면 크기가 그대로이고(층을 쌓기 쉽습니다),
# $s=2$이면 절반이 됩니다. **최대 풀링** `MaxPool2d(2)`는 2x2 창의 최댓값을 취하며 크기를
# 절반으로 줄입니다. 같은 공식($k=2, s=2, p=0$)입니다. 공식이 실제 층의 출력과 같은지
# 확인합니다.

# %%
def out_size(n, k, p=0, s=1):
    return (n + 2 * p - k) // s + 1


cases = [("conv k3 p1 s1", nn.Conv2d(3, 4, 3, padding=1), 32, (3, 1, 1)),
         ("conv k3 p0 s1", nn.Conv2d(3, 4, 3), 32, (3, 0, 1)),
         ("conv k3 p1 s2", nn.Conv2d(3, 4, 3, stride=2, padding=1), 32, (3, 1, 2)),
         ("conv k5 p2 s1", nn.Conv2d(3, 4, 5, padding=2), 32, (5, 2, 1)),
         ("conv k7 p3 s2", nn.Conv2d(3, 4, 7, stride=2, padding=3), 224, (7, 3, 2)),
         ("max pool 2", nn.MaxPool2d(2), 32, (2, 0, 2)),
         ("max pool 3 s2 p1", nn.MaxPool2d(3, stride=2, padding=1), 112, (3, 1, 2))]
print(f"{'layer':<18}{'in':>5}{'formula':>9}{'actual':>8}")
for name, layer, n, (k, p, s) in cases:
    actual = layer(torch.zeros(1, 3, n, n)).shape[-1]
    assert actual == out_size(n, k, p, s)
    print(f"{name:<18}{n:>5}{out_size(n, k, p, s):>9}{actual:>8}")

# %% [markdown]
# 이제 저장소의 `litlab.vision.models.TeachingCNN`을 층별로 따라가 봅니다. 블록마다
# `3x3 합성곱 두 번(크기 유지) → 2x2 최대 풀링(크기 절반)`이고, 마지막에 평균 풀링과
# 완전연결층이 붙습니다. 순방향 훅(forward hook)으로 각 블록의 출력 모양을 찍습니다.
# 합성곱 층의 매개변수 수가 이미지 크기와 상관없다는 점(가중치 공유)도 보세요.

# %%
from litlab.vision.models import MLP, TeachingCNN

cnn = TeachingCNN(in_channels=3, widths=(16, 32, 64), hidden=128)
shapes = []
hooks = [m.register_forward_hook(lambda m, i, o, name=name: shapes.append((name, o.shape)))
         for name, m in [*((f"blocks.{i}", b) for i, b in enumerate(cnn.blocks)),
                         ("pool", cnn.pool), ("fc", cnn.fc), ("classifier", cnn.classifier)]]
cnn(torch.zeros(1, 3, 32, 32))
for h in hooks:
    h.remove()
print(f"{'input':<12}(1, 3, 32, 32)")
for name, shape in shapes:
    print(f"{name:<12}{tuple(shape)}")

mlp = MLP(in_shape=(3, 32, 32), hidden=(512, 256))
count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
print(f"\nTeachingCNN: {count(cnn):,} parameters | MLP (512, 256): {count(mlp):,} parameters")

# %% [markdown]
# CNN은 MLP보다 매개변수가 훨씬 적습니다. MLP의 첫 층만 해도 3,072 x 512개의 가중치가
# 필요하지만, 합성곱 층은 `3 x 3 x 입력 채널 x 출력 채널`개뿐입니다.
#
# ## 3. CIFAR-10에서 CNN vs MLP
#
# 먼저 이 저장소의 `litlab` 실행 결과(README의 결과표와 같은 숫자)를
# `results/baselines.json`에서 읽습니다. 같은 분할(훈련 45,000장, 테스트 10,000장)에서
# scikit-learn 기준선(`litlab baseline`)과 CNN(`litlab fit`)의 테스트 정확도입니다.

# %%
import json

results = json.loads((REPO / "results" / "baselines.json").read_text())
print(f"{'CIFAR-10 (offline JPEG copy)':<34}{'test accuracy':>14}")
for r in results["baselines"] + results["deep"]:
    if r["dataset"] == "cifar10":
        kind = "scikit-learn" if r in results["baselines"] else "litlab fit"
        print(f"{kind + ' ' + r['model']:<34}{r['test_acc'] * 100:>12.2f} %")

# %% [markdown]
# 픽셀을 그대로 쓰는 로지스틱 회귀와 랜덤 포레스트는 40% 안팎에 머물고, CNN은 6 에포크
# 만에(`cifar10_quick`, CPU 약 8분) 80%에 가깝습니다. 이제 이 노트북에서 직접 짧게
# 비교합니다. **같은 데이터, 같은 에포크 수**로 MLP와 `TeachingCNN`(위에서 본 폭 16/32/64의
# 작은 버전)을 `ImageClassifier`로 학습합니다. 데이터 증강(뒤집기, 이동)은 DataModule이
# 배치마다 합니다.

# %%
from litlab.vision.module import ImageClassifier


def short_run(net, **hparams):
    """Train an image network for EPOCHS epochs on CIFAR-10; test accuracy, seconds."""
    torch.manual_seed(SEED)
    model = ImageClassifier(net, **hparams)
    trainer = L.Trainer(max_epochs=EPOCHS, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    t0 = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    seconds = time.perf_counter() - t0
    acc = trainer.test(model, datamodule=dm, verbose=False)[0]["test/acc"]
    return model, acc, seconds


torch.manual_seed(SEED)
mlp_model, mlp_acc, mlp_time = short_run(
    MLP(in_shape=(3, 32, 32), hidden=(512, 256)), optimizer="adamw", lr=2e-3, weight_decay=0.05)
cnn_model, cnn_acc, cnn_time = short_run(
    TeachingCNN(in_channels=3, widths=(16, 32, 64), hidden=128),
    optimizer="sgd", lr=0.05, weight_decay=5e-4, label_smoothing=0.1, channels_last=True)

print(f"{'this notebook, ' + str(EPOCHS) + ' epochs':<30}{'params':>10}{'test acc':>10}{'time':>8}")
for name, net, acc, sec in [("MLP (512, 256)", mlp_model, mlp_acc, mlp_time),
                            ("TeachingCNN (16, 32, 64)", cnn_model, cnn_acc, cnn_time)]:
    print(f"{name:<30}{count(net):>10,}{acc * 100:>9.2f}%{sec:>7.0f}s")

# %% [markdown]
# 매개변수가 열 배 이상 적은 CNN이 더 정확합니다. 에포크를 늘리면 차이는 더 벌어집니다
# (MLP는 50% 언저리에서 멈추고, CNN은 계속 올라갑니다). 예측 몇 개를 봅니다. 틀린 것은
# 빨간색, 괄호 안이 정답입니다.

# %%
probe_x, probe_y = dm.probe_batch(16, split="test")  # 16 fixed test images, normalised
with torch.no_grad():
    cnn_model.eval()
    preds = cnn_model(probe_x).argmax(dim=1)
fig = viz.prediction_grid(dm.denormalize(probe_x).clamp(0, 1), preds, probe_y, dm.classes)
fig.set_size_inches(9, 2.6)
plt.show()  # the figure once (a bare `fig` would show it twice)

# %% [markdown]
# ## 4. CNN은 무엇을 보고 있을까?
#
# ### 특징 맵
#
# 합성곱 층의 출력 채널 하나하나가 "특징 맵"입니다. 첫 층의 채널은 색이나 경계 같은 단순한
# 패턴에 반응합니다. 모델이 알려 주는 층(`feature_map_layers`, litlab의 특징 맵 콜백이 쓰는
# 것과 같은 것)에 훅을 걸어 봅니다.

# %%
layers = cnn_model.feature_map_layers(1)  # {name: the first nn.Conv2d}
name, first_conv = next(iter(layers.items()))
captured = {}
hook = first_conv.register_forward_hook(lambda m, i, o: captured.setdefault("maps", o))
with torch.no_grad():
    cnn_model(probe_x[:1])
hook.remove()
fig = viz.feature_map_figure(dm.denormalize(probe_x[:1])[0].clamp(0, 1), captured["maps"][0],
                             f"feature maps of {name}", max_channels=15)
fig.set_size_inches(8, 2.4)
plt.show()  # the figure once (a bare `fig` would show it twice)

# %% [markdown]
# ### Grad-CAM: 판단의 근거는 어디에?
#
# Grad-CAM(Selvaraju et al., 2017)은 마지막 합성곱 블록의 특징 맵 $A^c$ (채널 $c$)에
# 대해, 목표 클래스 점수 $y$의 기울기를 공간 평균해 채널 가중치 $\alpha_c$로 쓰고,
# 가중합의 양수 부분만 남깁니다.
#
# $$\alpha_c = \frac{1}{hw}\sum_{i,j}\frac{\partial y}{\partial A^c_{ij}}, \qquad
#   \text{CAM} = \mathrm{ReLU}\Big(\sum_c \alpha_c A^c\Big)$$
#
# 그다음 이미지 크기로 늘리고 최댓값으로 나눕니다. 직접 구현하고, litlab의
# `litlab.common.attribution.grad_cam`(captum으로 구현, TensorBoard 콜백과 `litlab explain`,
# 웹 앱이 쓰는 것)과 같은 값이 나오는지 확인합니다.

# %%
from litlab.common.attribution import grad_cam


def grad_cam_by_hand(model, layer, x, target):
    """Grad-CAM maps (B, H, W) in [0, 1] for classes ``target`` (B,), the formula above."""
    store = {}

    def keep(module, inputs, output):
        output.retain_grad()  # a non-leaf tensor keeps its .grad only when asked
        store["A"] = output

    hook = layer.register_forward_hook(keep)
    with torch.enable_grad():
        logits = model(x.clone().requires_grad_(True))  # (B, K)
        logits[torch.arange(len(x)), target].sum().backward()
    hook.remove()
    A, dA = store["A"], store["A"].grad  # (B, C, h, w) each
    alpha = dA.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
    cam = F.relu((alpha * A).sum(dim=1, keepdim=True)).detach()  # (B, 1, h, w)
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear")[:, 0]  # (B, H, W)
    return cam / cam.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None]


cnn_model.eval()
layer = cnn_model.gradcam_layer()  # the network says which layer: its last conv block
target = preds[:8]
ours = grad_cam_by_hand(cnn_model, layer, probe_x[:8], target)
theirs = grad_cam(cnn_model, layer, probe_x[:8], target)
print("largest difference, by hand vs litlab:", (ours - theirs).abs().max().item())
assert torch.allclose(ours, theirs, atol=1e-4)

titles = [[f"{dm.classes[int(t)]}" for t in target]]
fig = viz.gradcam_figure(dm.denormalize(probe_x[:8]).clamp(0, 1), [theirs], titles, ["predicted"])
fig.set_size_inches(9, 2.6)
plt.show()  # the figure once (a bare `fig` would show it twice)

# %% [markdown]
# 짧게 학습한 작은 CNN이라 지도가 거칩니다(마지막 블록의 출력이 4x4라서 해상도도
# 낮습니다). 더 오래 학습한 모델의 Grad-CAM은 TensorBoard의 Images 탭
# (`litlab fit --config experiments/vision/cifar10_quick.yaml` 후)과 웹 앱(06 노트북)에서 볼
# 수 있습니다.
#
# ## 5. 전이 학습: 남이 학습한 특징 빌려 쓰기
#
# 이미지 100만 장(ImageNet)으로 학습된 신경망의 합성곱 층은 경계, 질감, 물체의 부분을
# 알아보는 일반적인 특징을 이미 갖고 있습니다. 그 층을 얼린 채(학습하지 않고) 특징만 뽑아
# 새 분류 층 하나만 학습하면, **적은 데이터**로도 처음부터 학습한 CNN보다 훨씬 낫습니다.
#
# 클래스마다 훈련 이미지 `TRANSFER_PER_CLASS`장(기본 100장, 모두 1,000장)만 씁니다.
# 사전학습 신경망은 `litlab.vision.transfer.TransferNet`의 EfficientNet-Lite0(가중치는
# `transfer` extra의 휠 안에 있어 다운로드가 필요 없습니다)입니다. 32x32 이미지를 64x64로
# 키우고 ImageNet의 평균과 표준편차로 정규화합니다.

# %%
from torchvision.transforms import v2


def per_class(lbl, n):
    """Indices of the first ``n`` images of every class (the files are sorted by class)."""
    return torch.cat([torch.nonzero(lbl == c).flatten()[:n] for c in range(10)])


train_u8, train_lbl = dm.arrays("train")
pick = per_class(train_lbl, TRANSFER_PER_CLASS)
few_x, few_y = train_u8[pick], train_lbl[pick]
pick = per_class(labels, 5 if TINY else 200)  # 2,000 test images, 200 of each class
test_x, test_y = images[pick], labels[pick]
print(f"{len(few_y)} training images, {len(test_y)} test images")

try:
    from litlab.vision.transfer import TransferNet

    pretrained = TransferNet("efficientnet_lite0", num_classes=10, weights="DEFAULT").eval()
except ImportError as err:  # the optional extra: pip install -e '.[transfer]'
    pretrained = None
    print(f"skipped: {err}")


def imagenet_batch(u8):
    """uint8 (N, 3, 32, 32) -> float (N, 3, 64, 64) normalised like ImageNet's images."""
    x = v2.functional.resize(u8, [64, 64], antialias=True).float() / 255
    return v2.functional.normalize(x, TransferNet.imagenet_mean, TransferNet.imagenet_std)


def fit_head(head, feats, y, epochs=100):
    """Train a linear head on fixed features with full-batch Adam."""
    opt = torch.optim.Adam(head.parameters(), lr=1e-3, weight_decay=1e-4)
    for _ in range(epochs):
        loss = F.cross_entropy(head(feats), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head


if pretrained is not None:
    t0 = time.perf_counter()
    with torch.no_grad():  # the backbone is frozen: features once, no gradients
        f_train = torch.cat([pretrained.backbone(imagenet_batch(few_x[i : i + 100]))
                             for i in range(0, len(few_x), 100)])
        f_test = torch.cat([pretrained.backbone(imagenet_batch(test_x[i : i + 100]))
                            for i in range(0, len(test_x), 100)])
    head = fit_head(nn.Linear(pretrained.num_features, 10), f_train, few_y)
    with torch.no_grad():
        transfer_acc = (head(f_test).argmax(dim=1) == test_y).float().mean().item()
    transfer_time = time.perf_counter() - t0
    print(f"frozen EfficientNet-Lite0 + linear head: {transfer_acc * 100:.1f} % "
          f"({pretrained.num_features} features per image, {transfer_time:.0f} s)")

# %% [markdown]
# 비교를 위해 같은 1,000장으로 `TeachingCNN`을 처음부터 학습합니다(같은 데이터, 30 에포크).

# %%
torch.manual_seed(SEED)
scratch = TeachingCNN(in_channels=3, widths=(16, 32, 64), hidden=128)
opt = torch.optim.AdamW(scratch.parameters(), lr=2e-3, weight_decay=0.05)
xs = v2.functional.normalize(few_x.float() / 255, dm.mean, dm.std)
t0 = time.perf_counter()
for epoch in range(3 if TINY else 30):
    scratch.train()
    order = torch.randperm(len(xs))
    for i in range(0, len(xs), 64):
        idx = order[i : i + 64]
        batch = xs[idx].flip(-1) if epoch % 2 else xs[idx]  # a cheap augmentation: mirror
        loss = F.cross_entropy(scratch(batch), few_y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
scratch.eval()
with torch.no_grad():
    xt = v2.functional.normalize(test_x.float() / 255, dm.mean, dm.std)
    scratch_acc = (scratch(xt).argmax(dim=1) == test_y).float().mean().item()
print(f"TeachingCNN from scratch on the same images: {scratch_acc * 100:.1f} % "
      f"({time.perf_counter() - t0:.0f} s)")

# %% [markdown]
# 사전학습된 특징 + 선형 분류기 하나가, 같은 1,000장으로 처음부터 학습한 CNN을 크게
# 앞섭니다. 데이터가 적을 때 전이 학습이 거의 언제나 첫 선택인 이유입니다. 데이터가 많으면
# 얼렸던 층을 차례로 풀어 함께 미세조정(fine-tuning)합니다. 이 저장소의
# `experiments/vision/cifar10_transfer.yaml`이 그 방법(단계적 해동, `StagedUnfreezing`)으로
# 45,000장 전부를 학습하며, README의 결과표에 GPU에서 잰 결과가 있습니다.
#
# ## 정리
#
# - 합성곱은 "작은 필터를 밀며 곱해 더하기"이고, 손으로 쓴 식이 `nn.Conv2d`와 같습니다.
# - 출력 크기는 $\lfloor (n + 2p - k)/s \rfloor + 1$ 하나로 계산합니다.
# - 가중치 공유 덕분에 CNN은 매개변수가 적으면서도 이미지에서 MLP보다 정확합니다.
# - 특징 맵과 Grad-CAM으로 CNN이 무엇을 보는지 확인할 수 있습니다.
# - 데이터가 적으면 사전학습된 신경망의 특징부터 써 보세요.
#
# 다음: **04_rnn**. 순서가 있는 데이터(글, 시계열)를 다루는 순환 신경망입니다.
#
# ## 연습 문제
#
# 1. **최대 풀링을 손으로.** 2x2, 스트라이드 2 최대 풀링을 구현하고 `F.max_pool2d`와
#    비교하세요. (힌트: `x.unfold(2, 2, 2).unfold(3, 2, 2)`)
# 2. **매개변수 세기.** 32x32x3 이미지를 받아 32x32x16 출력을 내는 층을 (a) `Conv2d(3, 16, 3,
#    padding=1)`, (b) 모든 입력과 모든 출력을 잇는 `Linear`로 만들면 매개변수는 각각 몇
#    개인가요? 코드로 확인하세요.
# 3. **1x1까지 줄이기.** 32x32 입력을 3x3, 스트라이드 2, 패딩 1 합성곱만으로 1x1까지
#    줄이려면 몇 층이 필요할까요? 공식으로 예측하고 `nn.Sequential`로 확인하세요.
# 4. **틀린 예측의 Grad-CAM.** 위의 CNN이 틀린 테스트 이미지 하나를 골라, 예측한 클래스와
#    정답 클래스 각각의 Grad-CAM을 그려 보세요.
#
# ## 풀이

# %% jupyter={"source_hidden": true} tags=["solution"]
# 1. windows of 2x2 with stride 2: (B, C, H/2, W/2, 2, 2), then the max of each window
def max_pool_by_hand(x):
    windows = x.unfold(2, 2, 2).unfold(3, 2, 2)  # (B, C, H/2, W/2, 2, 2)
    return windows.amax(dim=(-2, -1))


x = torch.randn(2, 3, 8, 8)
assert torch.equal(max_pool_by_hand(x), F.max_pool2d(x, 2))
print("max pooling by hand = F.max_pool2d:", tuple(max_pool_by_hand(x).shape))

# %% jupyter={"source_hidden": true} tags=["solution"]
# 2. conv: 3*3*3*16 weights + 16 biases; linear: (32*32*3) * (32*32*16) weights + outputs
conv = nn.Conv2d(3, 16, 3, padding=1)
n_conv = count(conv)
n_linear = (32 * 32 * 3) * (32 * 32 * 16) + 32 * 32 * 16  # too big to build for nothing
assert n_conv == 3 * 3 * 3 * 16 + 16
print(f"Conv2d: {n_conv:,} parameters | Linear: {n_linear:,} parameters "
      f"({n_linear // n_conv:,} times more)")

# %% jupyter={"source_hidden": true} tags=["solution"]
# 3. every stride-2 layer maps n to (n + 2 - 3) // 2 + 1: 32 -> 16 -> 8 -> 4 -> 2 -> 1
n, depth = 32, 0
while n > 1:
    n, depth = out_size(n, 3, 1, 2), depth + 1
stack = nn.Sequential(*[nn.Conv2d(3 if i == 0 else 8, 8, 3, stride=2, padding=1)
                        for i in range(depth)])
print(depth, "layers:", tuple(stack(torch.zeros(1, 3, 32, 32)).shape))

# %% jupyter={"source_hidden": true} tags=["solution"]
# 4. a misclassified test image: Grad-CAM for the predicted class and for the true class
with torch.no_grad():
    test_preds = cnn_model(probe_x).argmax(dim=1)
wrong = (test_preds != probe_y).nonzero().flatten()
if len(wrong):
    i = int(wrong[0])
    x1 = probe_x[i : i + 1]
    maps = [grad_cam(cnn_model, layer, x1, test_preds[i : i + 1]),
            grad_cam(cnn_model, layer, x1, probe_y[i : i + 1])]
    names = [[dm.classes[int(test_preds[i])]], [dm.classes[int(probe_y[i])]]]
    fig = viz.gradcam_figure(dm.denormalize(x1).clamp(0, 1), maps, names, ["predicted", "true"])
    fig.set_size_inches(5, 2)
else:
    fig = None
    print("no mistakes among these 16 images")
plt.show()  # the figure once (a bare `fig` would show it twice)
