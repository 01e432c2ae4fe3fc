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
# # 02. 첫 신경망: 직접 짠 루프 → LightningModule → YAML 한 줄
#
# 01에서는 학습 루프를 직접 썼습니다. 이번에는 MNIST 손글씨 숫자에서 **다층 신경망(MLP)** 을
# 같은 방식으로 학습한 뒤, 똑같은 모델을 세 단계로 옮겨 봅니다.
#
# 1. **직접 짠 루프**: 모든 것을 손으로(장치 이동, 평가 모드, 로그, 체크포인트).
# 2. **LightningModule + Trainer**: "한 스텝에 무엇을 하는지"만 쓰고 나머지는 Trainer에게.
#    직접 짠 루프와 **가중치까지 똑같은 결과**가 나오는지 확인합니다.
# 3. **YAML + `litlab fit`**: 코드 없이 설정 파일 하나로. 이 저장소의 모든 실험이 이
#    방식입니다.
#
# 각 단계가 무엇을 덜어 주는지(로그, 체크포인트, 장치, 정밀도)를 표로 정리하며 끝납니다.
# 데이터는 CLI와 같은 데이터 루트(`DATA_DIR`, 없으면 `./data`)에서 읽습니다. 오프라인이라면
# `export DATA_DIR=/path/to/shared/data` 후 Jupyter를 시작하세요. 2코어 CPU에서 몇 분 걸립니다.

# %% tags=["parameters"]
# 매개변수 셀: 테스트는 LITLAB_NOTEBOOK_TINY=1 로 아주 작은 데이터와 몇 스텝만 실행합니다.
import os

TINY = os.environ.get("LITLAB_NOTEBOOK_TINY") == "1"
SEED = 0
EPOCHS = 1 if TINY else 2  # the hand-written loop and the Trainer run
VAL_SIZE = 40 if TINY else 5000  # images held out of MNIST's 60,000 for validation

# %%
import warnings

# notices that say nothing about this notebook (no widgets for progress bars, few workers, ...)
warnings.filterwarnings("ignore", message=".*(IProgress|does not have many workers|is an instance"
                        "|LeafSpec|smaller than the logging interval|args parameter is intended"
                        "|Skipping val loop).*")

import copy
import logging
import time
from pathlib import Path

import lightning as L
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

import litlab.common.viz  # noqa: F401  litlab's figures; it selects a file-only backend,

# %matplotlib inline
plt.rcParams.update({"figure.dpi": 80})

# so the line above switches the notebook back to figures shown inline
REPO = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "pyproject.toml").exists())
WORK = Path(os.environ.get("LITLAB_NOTEBOOK_WORK", REPO))  # where logs/ go
os.environ.setdefault("DATA_DIR", str(REPO / "data"))  # the CLI's rule: $DATA_DIR, else ./data
os.environ["NO_COLOR"] = "1"  # Lightning's tables without terminal colour codes
for name in ("lightning.pytorch", "lightning.fabric"):  # short outputs: warnings only
    logging.getLogger(name).setLevel(logging.WARNING)
torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"
print("data root:", os.environ["DATA_DIR"], "| device:", device)

# %% [markdown]
# ## 1. MNIST를 litlab의 DataModule에서 읽기
#
# `MNISTDataModule`은 `litlab fit`이 쓰는 바로 그 데이터 클래스입니다. 파일을 찾고(오프라인
# 사본 → 표준 위치 → 온라인이면 다운로드), 이미지를 uint8 텐서로 풀어 캐시에 두고,
# 훈련 세트에서 검증용 이미지를 떼어 둡니다. 여기서는 그 텐서만 꺼내 직접 씁니다.

# %%
from litlab.vision.data import MNISTDataModule

dm = MNISTDataModule(val_size=VAL_SIZE, batch_size=128)
dm.setup()
train_x, train_y = dm.arrays("train")  # uint8 (N, 1, 28, 28), int64 (N,)
val_x, val_y = dm.arrays("val")
test_x, test_y = dm.arrays("test")
print("train", tuple(train_x.shape), "val", tuple(val_x.shape), "test", tuple(test_x.shape))

fig, axes = plt.subplots(2, 8, figsize=(6, 1.8))
for ax, img, label in zip(axes.flat, train_x, train_y):
    ax.imshow(img[0], cmap="gray")
    ax.set_title(int(label), fontsize=8)
    ax.axis("off")
fig.tight_layout()

# %% [markdown]
# 픽셀은 0~255 정수입니다. 신경망에는 평균 0, 표준편차 1 근처의 실수가 좋으므로
# `(x / 255 - 평균) / 표준편차`로 바꿉니다. MNIST의 평균과 표준편차는 DataModule이 알고
# 있습니다. 손으로 쓴 식이 litlab의 `augment.normalize`와 같은지 확인합니다.

# %%
from litlab.vision import augment


def normalize(x):
    """uint8 images (N, 1, 28, 28) -> float32, standardised with MNIST's statistics."""
    return (x.float() / 255 - dm.mean[0]) / dm.std[0]


assert torch.allclose(normalize(val_x[:64]), augment.normalize(val_x[:64], dm.mean, dm.std))
Xtr, Xval, Xte = normalize(train_x), normalize(val_x), normalize(test_x)
print(f"mean {Xtr.mean().item():.3f}, std {Xtr.std().item():.3f}")

# %% [markdown]
# ## 2. 직접 짠 학습 루프
#
# 모델은 `litlab.vision.models.MLP`입니다. 이미지를 한 줄(784개 숫자)로 펴고
# `Linear → BatchNorm → ReLU → Dropout`을 쌓은 뒤 10개 클래스의 점수를 냅니다. 모델 코드를
# 여기에 복사하지 않고 저장소의 것을 그대로 가져다 씁니다. 그래야 노트북과 실험이 늘 같은
# 모델을 씁니다.
#
# 이번 루프에는 01에 없던 것이 들어갑니다.
#
# - `model.train()` / `model.eval()`: Dropout과 BatchNorm은 학습과 평가에서 다르게 동작합니다.
# - 배치마다 `.to(device)`: GPU가 있으면 데이터와 모델이 같은 장치에 있어야 합니다.
# - 에포크마다 검증 정확도, 그리고 가장 좋았던 가중치를 파일로 저장(체크포인트).

# %%
from litlab.vision.models import MLP

torch.manual_seed(SEED)
net = MLP(in_shape=(1, 28, 28), hidden=(512, 256), dropout=0.2).to(device)
print(net)
print(f"{sum(p.numel() for p in net.parameters()):,} parameters")


def evaluate(model, X, y, batch_size=1000):
    """Accuracy of ``model`` on normalised images X (N, 1, 28, 28), in eval mode."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            logits = model(X[i : i + batch_size].to(device))
            correct += (logits.argmax(dim=1).cpu() == y[i : i + batch_size]).sum().item()
    return correct / len(X)


optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
ckpt_dir = WORK / "logs" / "notebooks" / "02_plain_loop"
ckpt_dir.mkdir(parents=True, exist_ok=True)
best, t0 = 0.0, time.perf_counter()
for epoch in range(EPOCHS):
    net.train()
    order = torch.randperm(len(Xtr))
    for step, start in enumerate(range(0, len(Xtr), 128)):
        idx = order[start : start + 128]
        x, y = Xtr[idx].to(device), train_y[idx].to(device)
        loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0:
            print(f"epoch {epoch} step {step:4d} loss {loss.item():.4f}")
    acc = evaluate(net, Xval, val_y)
    print(f"epoch {epoch}: val accuracy {acc:.4f}")
    if acc > best:  # a checkpoint by hand: the weights and the optimizer state
        best = acc
        torch.save({"model": net.state_dict(), "optimizer": optimizer.state_dict()},
                   ckpt_dir / "best.pt")
plain_time = time.perf_counter() - t0
plain_acc = evaluate(net, Xte, test_y)
print(f"plain loop: test accuracy {plain_acc:.4f} after {EPOCHS} epochs, {plain_time:.0f} s")

# %% [markdown]
# 잘 동작합니다. 하지만 실제 프로젝트라면 여기에 더 붙어야 합니다. 손실과 정확도를 그래프로
# 남기는 로그, 학습이 중간에 죽었을 때 이어서 학습하기, GPU 여러 장, 혼합 정밀도,
# 재현 가능한 시드... 모두 모델과 상관없는 **반복 코드**입니다. PyTorch Lightning은 이 반복
# 코드를 `Trainer`가 맡고, 우리는 "한 스텝에서 무엇을 하는지"만 쓰게 합니다.
#
# ## 3. 같은 모델을 LightningModule로
#
# `LightningModule`은 `nn.Module`에 몇 가지 약속된 메서드를 더한 것입니다.
#
# - `training_step(batch, batch_idx)`: 한 배치의 손실을 돌려줍니다(우리 루프의 가운데 세 줄).
# - `validation_step`, `test_step`: 평가. `no_grad`와 `eval()`은 Trainer가 알아서 합니다.
# - `configure_optimizers()`: 옵티마이저(와 학습률 스케줄).
# - `self.log("val/acc", ...)`: 값을 로거(TensorBoard 등)에 기록합니다.
#
# litlab에서는 이미지 분류기 하나(`litlab.vision.module.ImageClassifier`)가 모든 이미지
# 신경망을 학습합니다. 신경망은 인자로 받습니다. 손실과 지표를 계산하는 공통 부분은
# 이렇게 생겼습니다(저장소의 코드를 그대로 출력).

# %%
import inspect

from litlab.common.classifier import Classifier
from litlab.vision.module import ImageClassifier

print(inspect.getsource(Classifier._shared_step))

# %% [markdown]
# ### 직접 짠 루프와 Trainer가 정말 같은 일을 할까?
#
# 확인해 봅시다. 같은 초기 가중치의 모델 두 개를 준비해, 하나는 직접 짠 루프로, 하나는
# `ImageClassifier` + `Trainer`로 같은 배치를 같은 순서로 `K` 스텝 학습합니다. 옵티마이저는
# 둘 다 AdamW(가중치 감쇠 0, 고정 학습률), Dropout은 0으로 둡니다(무작위성이 없도록). 두
# 모델의 가중치가 (부동소수점 오차 안에서) 같아야 합니다.

# %%
from torch.utils.data import DataLoader, TensorDataset

K = 5 if TINY else 20
torch.manual_seed(SEED)
base = MLP(hidden=(128,), dropout=0.0)
by_hand, by_trainer = copy.deepcopy(base), copy.deepcopy(base)
loader = DataLoader(TensorDataset(Xtr[: 64 * K], train_y[: 64 * K]), batch_size=64)

opt = torch.optim.AdamW(by_hand.parameters(), lr=1e-3, weight_decay=0.0)
by_hand.train()
for x, y in loader:
    loss = F.cross_entropy(by_hand(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()

lit = ImageClassifier(by_trainer, optimizer="adamw", lr=1e-3, weight_decay=0.0, scheduler="none")
trainer = L.Trainer(max_steps=K, accelerator="cpu", logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
trainer.fit(lit, train_dataloaders=loader)

diff = max((p - q).abs().max().item()
           for p, q in zip(by_hand.parameters(), by_trainer.parameters()))
print(f"{K} steps: largest weight difference, plain loop vs Trainer = {diff:.2e}")
assert diff < 1e-5
assert any((p != q).any() for p, q in zip(base.parameters(), by_trainer.parameters()))  # moved

# %% [markdown]
# 차이는 부동소수점 반올림 수준입니다. **Trainer는 마법이 아니라 우리 루프와 같은 계산**을
# 합니다. 이제 제대로 학습시켜 봅니다. 이번에는 DataModule을 통째로 Trainer에게 넘깁니다.
# 배치 만들기, 섞기, 정규화(litlab의 DataModule은 배치를 장치로 옮긴 뒤 그 자리에서 정규화하고
# 증강합니다)도 Trainer와 DataModule이 합니다.

# %%
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger

torch.manual_seed(SEED)
model = ImageClassifier(MLP(hidden=(512, 256), dropout=0.2), optimizer="adamw", lr=2e-3,
                        weight_decay=0.05, scheduler="onecycle")
logger = TensorBoardLogger(WORK / "logs", name="notebooks/02_lightning", default_hp_metric=False)
checkpoint = ModelCheckpoint(monitor="val/acc", mode="max", filename="best")
trainer = L.Trainer(
    max_epochs=EPOCHS,
    accelerator="auto",  # cuda, mps or cpu: whatever this machine has
    logger=logger,
    callbacks=[checkpoint],
    enable_progress_bar=False,  # a bar is nice in a terminal, noise in a stored notebook
    log_every_n_steps=10,
)
t0 = time.perf_counter()
trainer.fit(model, datamodule=dm)
lightning_time = time.perf_counter() - t0
lightning_acc = trainer.test(model, datamodule=dm, verbose=False)[0]["test/acc"]
print(f"Lightning: test accuracy {lightning_acc:.4f} after {EPOCHS} epochs, {lightning_time:.0f} s")

# %% [markdown]
# (여기서는 마지막 가중치로 테스트했습니다. 파이썬에서 신경망 객체를 넘겨 만든 모듈의
# 체크포인트에는 그 객체가 pickle로 들어가서, 다시 읽으려면 `weights_only=False`, 즉 파일을
# 믿는다는 선언이 필요합니다. 아래 `litlab fit`은 신경망을 클래스 경로와 인자로 저장하므로
# 아무것도 unpickle하지 않고 가장 좋은 체크포인트를 테스트합니다.)
#
# 우리가 쓰지 않았는데 Trainer가 해 준 일을 확인해 봅니다.

# %%
print("accelerator:", type(trainer.accelerator).__name__, "| precision:", trainer.precision)
print("best checkpoint:", Path(checkpoint.best_model_path).relative_to(WORK))
print("log folder:", Path(logger.log_dir).relative_to(WORK))
for f in sorted(Path(logger.log_dir).rglob("*")):
    if f.is_file():
        print("  ", f.relative_to(logger.log_dir))

# %% [markdown]
# `self.log`로 기록한 값은 TensorBoard 이벤트 파일에 들어 있습니다. 보통은
# `tensorboard --logdir logs`로 보지만, 파일을 직접 읽어 그릴 수도 있습니다.

# %%
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

events = EventAccumulator(logger.log_dir)
events.Reload()
fig, axes = plt.subplots(1, 2, figsize=(8, 2.6))
for ax, tag in zip(axes, ("train/loss_step", "val/acc")):
    if tag in events.Tags()["scalars"]:
        points = events.Scalars(tag)
        ax.plot([p.step for p in points], [p.value for p in points], marker="." if "val" in tag else None)
    ax.set(title=tag, xlabel="step")
fig.tight_layout()

# %% [markdown]
# 장치와 정밀도를 바꾸는 것도 인자 하나입니다. 아래는 실행하지 않고 보여만 줍니다(이 컴퓨터에는
# GPU가 없습니다).
#
# ```python
# L.Trainer(accelerator="gpu", devices=2, strategy="ddp", precision="bf16-mixed")
# ```
#
# 모델 코드는 한 줄도 바뀌지 않습니다. 직접 짠 루프라면 `autocast`, `GradScaler`,
# `DistributedDataParallel`, 샘플러 분할을 모두 손으로 넣어야 합니다.
#
# ## 4. YAML 한 줄: `litlab fit`
#
# 마지막 단계에서는 모델, 데이터, Trainer 설정을 코드 대신 YAML 파일에 적습니다. 이
# 저장소의 `experiments/vision/mnist_mlp.yaml`이 방금 만든 것과 같은 구성입니다.

# %%
config = REPO / "experiments" / "vision" / "mnist_mlp.yaml"
print(config.read_text())

# %% [markdown]
# 터미널에서는 이렇게 실행합니다.
#
# ```bash
# litlab fit --config experiments/vision/mnist_mlp.yaml --trainer.max_epochs=1
# ```
#
# 여기서는 같은 명령을 파이썬에서 부릅니다(`litlab.common.cli.run`은 `litlab` 명령 그
# 자체입니다). YAML의 어떤 값이든 명령줄에서 덮어쓸 수 있습니다. 여기서는 에포크 수를 1로
# 줄이고 진행 막대를 끕니다.

# %%
from litlab.common.cli import run as litlab

args = [
    "fit", "--config", str(config),
    "--trainer.max_epochs=1",
    f"--trainer.default_root_dir={WORK / 'logs' / 'notebooks'}",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
]
if TINY:
    args += ["--data.init_args.val_size=40", "--data.init_args.batch_size=16"]
t0 = time.perf_counter()
cli = litlab(args)
cli_time = time.perf_counter() - t0
cli_acc = cli.trainer.callback_metrics["test/acc"].item()
run_dir = Path(cli.trainer.log_dir)
print(f"litlab fit: test accuracy {cli_acc:.4f} after 1 epoch, {cli_time:.0f} s")
print("run folder:", run_dir.relative_to(WORK))
for f in sorted(run_dir.rglob("*")):
    if f.is_file():
        print("  ", f.relative_to(run_dir))

# %% [markdown]
# 실행 폴더에는 체크포인트(`best.ckpt`, `last.ckpt`), TensorBoard 로그, 그리고 **실제로 쓰인
# 설정 전체**(`config.yaml`)가 남습니다. YAML에 없던 값(데이터가 정하는 클래스 수, 시드,
# 명령줄에서 바꾼 에포크 수 등)도 채워져 있으니, 몇 달 뒤에도 같은 실험을 그대로 다시 돌릴 수
# 있습니다.

# %%
saved = (run_dir / "config.yaml").read_text().splitlines()
print("\n".join(line for line in saved if "num_classes" in line or "seed_everything" in line
                or "max_epochs" in line or "val_size" in line))

# %% [markdown]
# 이 저장소의 결과표는 같은 명령을 12 에포크 돌린 결과입니다. scikit-learn 기준선
# (`litlab baseline`)과 함께 `results/baselines.json`에서 읽어 옵니다.

# %%
import json

results = json.loads((REPO / "results" / "baselines.json").read_text())
rows = [(f"scikit-learn {r['model']}", r["test_acc"]) for r in results["baselines"]
        if r["dataset"] == "mnist"]
rows += [(f"litlab {r['model']} (README, full run)", r["test_acc"]) for r in results["deep"]
         if r["dataset"] == "mnist"]
rows += [("this notebook: plain loop", plain_acc), ("this notebook: LightningModule", lightning_acc),
         ("this notebook: litlab fit, 1 epoch", cli_acc)]
print(f"{'MNIST test accuracy':<44}")
for name, acc in rows:
    print(f"{name:<44}{acc * 100:6.2f} %")

# %% [markdown]
# ## 5. 각 단계가 덜어 준 것
#
# | 할 일 | 직접 짠 루프 | LightningModule + Trainer | YAML + `litlab fit` |
# |---|---|---|---|
# | 학습/평가 루프, `train()`/`eval()`, `no_grad` | 직접 | Trainer | Trainer |
# | 장치 선택과 `.to(device)` | 직접 | `accelerator="auto"` | 같음 |
# | 정밀도(bf16, fp16) | `autocast` 직접 | `precision=` 한 인자 | 하드웨어에 맞춘 기본값 |
# | 여러 GPU, 여러 노드 | DDP 코드 직접 | `devices=`, `strategy="ddp"` | 명령줄 인자 |
# | 로그와 그래프 | `print` | `self.log` → TensorBoard | 실험 이름별 폴더 + 그림 콜백 |
# | 체크포인트 | `torch.save` 직접 | `ModelCheckpoint` | `best.ckpt`/`last.ckpt`, `--ckpt_path last`로 이어서 학습 |
# | 재현성 | 시드 직접 | `seed_everything` | 시드 42 기본, `config.yaml` 저장 |
# | 실험 바꾸기 | 코드 수정 | 코드 수정 | 명령줄 덮어쓰기, overlay YAML |
#
# 직접 짠 루프는 **이해하기 위해**, Lightning은 **반복 코드를 없애기 위해**, YAML은
# **실험을 기록하고 비교하기 위해** 씁니다. 다음 노트북부터는 주로 Lightning과
# `litlab fit`을 쓰고, 새로운 개념(합성곱, 순환, 어텐션)만 직접 짜서 라이브러리와 비교합니다.
#
# 다음: **03_cnn**. 이미지의 이웃 픽셀 구조를 쓰는 합성곱 신경망입니다.
#
# ## 연습 문제
#
# 1. **조기 종료.** 검증 정확도가 2 에포크 동안 오르지 않으면 멈추도록 Trainer에
#    `EarlyStopping` 콜백을 추가하세요.
# 2. **명령줄 덮어쓰기.** `litlab fit`에서 은닉층을 `[256]` 하나로 바꾸고
#    (`--model.init_args.net.init_args.hidden=[256]`), `experiments/overlays/quick.yaml`을 덧붙여
#    짧게 돌려 보세요. 매개변수 수와 정확도는?
# 3. **가장 확신한 오답.** Lightning으로 학습한 모델이 틀린 검증 이미지 중 가장 확신한 것
#    8개를 그려 보세요. 사람이 봐도 헷갈리나요?
#
# ## 풀이

# %% jupyter={"source_hidden": true} tags=["solution"]
# 1. EarlyStopping watches a logged key; it stops when val/acc has not improved for 2 epochs
from lightning.pytorch.callbacks import EarlyStopping

stopper = EarlyStopping(monitor="val/acc", mode="max", patience=2)
trainer = L.Trainer(max_epochs=1 if TINY else 4, callbacks=[stopper], logger=False,
                    enable_checkpointing=False, enable_progress_bar=False,
                    enable_model_summary=False)
trainer.fit(ImageClassifier(MLP(hidden=(256,)), optimizer="adamw", lr=2e-3), datamodule=dm)
if stopper.stopped_epoch:
    print(f"stopped early after epoch {stopper.stopped_epoch}", end=" ")
else:
    print(f"ran all {trainer.current_epoch} epochs (val/acc kept improving)", end=" ")
print(f"| best val/acc {stopper.best_score.item():.4f}")

# %% jupyter={"source_hidden": true} tags=["solution"]
# 2. one hidden layer of 256, the quick overlay (2 short epochs)
args = ["fit", "--config", str(config),
        "--config", str(REPO / "experiments" / "overlays" / "quick.yaml"),
        "--model.init_args.net.init_args.hidden=[256]",
        f"--trainer.default_root_dir={WORK / 'logs' / 'notebooks'}",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--trainer.callbacks=[]", "--test=false"]
if TINY:  # 40 validation images: a quarter of them is less than one batch
    args += ["--data.init_args.val_size=40", "--data.init_args.batch_size=16",
             "--trainer.limit_val_batches=1"]
small = litlab(args)
n = sum(p.numel() for p in small.model.parameters())
print(f"hidden=[256]: {n:,} parameters, val/acc {small.trainer.callback_metrics['val/acc']:.4f}")

# %% jupyter={"source_hidden": true} tags=["solution"]
# 3. the most confident mistakes of the Lightning model on the validation images
model.eval()
with torch.no_grad():
    probs = model(Xval).softmax(dim=1)  # (N, 10)
conf, pred = probs.max(dim=1)
wrong = (pred != val_y).nonzero().flatten()
worst = wrong[conf[wrong].argsort(descending=True)][:8]
fig, axes = plt.subplots(1, 8, figsize=(7, 1.3))
for ax in axes:
    ax.axis("off")
for ax, i in zip(axes, worst.tolist()):
    ax.imshow(val_x[i, 0], cmap="gray")
    ax.set_title(f"{pred[i].item()} ({conf[i]:.2f})\ntrue {val_y[i].item()}", fontsize=7)
print(f"{len(wrong)} of {len(val_y)} validation images are wrong")
