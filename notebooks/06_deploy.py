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
# # 06. 배포: 모델 레지스트리, `litlab serve`, JSON API, 웹 앱
#
# 학습한 모델은 쓰여야 의미가 있습니다. 이 노트북은 **아무것도 없는 상태에서 웹 앱까지**
# 갑니다.
#
# 1. 이미지, 텍스트, 언어 모델을 하나씩 빠른 설정(quick)으로 학습합니다(`litlab fit`).
# 2. 각 모델을 **레지스트리**에 버전을 붙여 넣습니다(`litlab export`).
# 3. 이름과 버전으로 다시 불러와 파이썬에서 예측합니다(`litlab.common.registry.load`).
# 4. `litlab serve`로 서버를 띄우고, 파이썬에서 **JSON API**를 부릅니다.
# 5. 브라우저로 웹 앱을 엽니다. 마지막에 서버를 멈춥니다.
#
# 목표는 **2코어 CPU에서 처음부터 웹 앱까지 20분 이내**입니다. 1단계의 학습이 대부분을
# 차지합니다(약 15분). 같은 과정을 노트북 없이 한 줄로 실행할 수도 있습니다.
#
# ```bash
# python3 -m venv .venv && .venv/bin/pip install -e '.[serve]' && .venv/bin/python notebooks/zero_to_webapp.py
# ```
#
# 이 노트북은 그 스크립트(`notebooks/zero_to_webapp.py`)의 함수들을 한 단계씩 부릅니다.

# %% tags=["parameters"]
# 매개변수 셀: 테스트는 LITLAB_NOTEBOOK_TINY=1 로 아주 작은 데이터와 몇 스텝만 실행합니다.
import os

TINY = os.environ.get("LITLAB_NOTEBOOK_TINY") == "1"

# %%
import warnings

# notices that say nothing about this notebook (no widgets for progress bars, few workers, ...)
warnings.filterwarnings("ignore", message=".*(IProgress|does not have many workers|is an instance"
                        "|LeafSpec|smaller than the logging interval|args parameter is intended"
                        "|Skipping val loop).*")

import json
import logging
import time
from pathlib import Path

import httpx
import lightning.pytorch  # noqa: F401  (it sets its own log level when imported: ours below wins)
import matplotlib.pyplot as plt
import torch
import zero_to_webapp as z  # notebooks/zero_to_webapp.py, beside this notebook

import litlab.common.viz  # noqa: F401  litlab's figures; it selects a file-only backend,

# %matplotlib inline
# nearest: pixel images (32x32 CIFAR-10, attention maps) stay sharp and their PNGs small
plt.rcParams.update({"figure.dpi": 80, "image.interpolation": "nearest"})

# so the line above switches the notebook back to figures shown inline

REPO = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "pyproject.toml").exists())
WORK = Path(os.environ.get("LITLAB_NOTEBOOK_WORK", REPO))  # logs/ and models/ go here
REGISTRY = WORK / "models"
os.environ.setdefault("DATA_DIR", str(REPO / "data"))  # the CLI's rule: $DATA_DIR, else ./data
os.environ["NO_COLOR"] = "1"  # Lightning's tables without terminal colour codes
for name in ("lightning.pytorch", "lightning.fabric"):  # short outputs: warnings only
    logging.getLogger(name).setLevel(logging.WARNING)
print("data root:", os.environ["DATA_DIR"])
print("registry:", REGISTRY)

# %% [markdown]
# ## 1. 세 모델 학습
#
# 세 실험은 저장소의 YAML 그대로입니다. 터미널에서라면 이렇게 실행합니다.
#
# ```bash
# litlab fit --config experiments/vision/cifar10_quick.yaml              # CIFAR-10, 작은 airbench CNN, 6 에포크
# litlab fit --config experiments/sequence/nsmc_bilstm_quick.yaml        # 한국어 감성, 양방향 GRU, 1 에포크
# litlab fit --config experiments/transformer/shakespeare_char_gpt_cpu.yaml  # 미니 GPT, 2,000 스텝
# ```
#
# 여기서는 같은 명령을 파이썬에서 차례로 부르고(`z.train`), 걸린 시간을 잽니다. 진행 막대는
# 끕니다. 이 셀이 노트북에서 가장 오래 걸립니다.

# %%
for step in z.STEPS:
    print(f"{step.kind:<9} experiments/{step.config:<46} -> {step.name}")

zero = time.perf_counter()  # the clock of "from zero to the web app" (this notebook's part)
trained = []
for step in z.STEPS:
    quiet = ("--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false")
    t = z.train(step, WORK, extra=quiet, tiny=TINY)
    trained.append(t)
    print(f"{step.kind:<9} {t.score:<22} {t.seconds:6.0f} s   {t.checkpoint.relative_to(WORK)}")

# %% [markdown]
# ## 2. 레지스트리에 넣기: `litlab export`
#
# 체크포인트(`.ckpt`)는 학습을 이어 가기 위한 파일입니다. 옵티마이저 상태까지 들어 있고,
# 읽으려면 pickle을 풀어야 합니다. 서비스에는 **레지스트리**를 씁니다.
#
# ```bash
# litlab export --ckpt logs/vision/cifar10_quick/version_0/checkpoints/best.ckpt --name cifar10-quick
# ```
#
# 는 `models/cifar10-quick/v1/`을 만듭니다. 가중치는 `model.safetensors`(pickle 없음), 모델과
# 데이터 클래스의 설정은 `config.json`, 새 입력을 준비하는 데 필요한 것(클래스 이름, 정규화
# 값, 토크나이저)은 `datamodule_state.json`, 점수는 `metrics.json`, 사람이 읽을 설명은
# `card.md`입니다. 버전은 절대 덮어쓰지 않고 v1, v2, ...로 늘어납니다.

# %%
folders = [z.export(t, REGISTRY) for t in trained]
for f in folders:
    files = ", ".join(sorted(p.name for p in f.iterdir()))
    print(f"{f.relative_to(WORK)}: {files}")
print()
print((folders[0] / "card.md").read_text()[:900])

# %% [markdown]
# `litlab models`는 레지스트리의 목록을 보여 줍니다. 같은 체크포인트를 한 번 더 내보내
# 버전이 늘어나는 것도 확인합니다.

# %%
from litlab.common.cli import run as litlab

second = z.export(trained[0], REGISTRY)  # the same checkpoint again: a new version
print("exported again as", second.relative_to(WORK))
litlab(["models", "--root", str(REGISTRY)])

# %% [markdown]
# ## 3. 이름과 버전으로 불러오기
#
# `litlab.common.registry.load("이름")`은 최신 버전을, `"이름@v1"`은 그 버전을 불러옵니다
# (`root`: 레지스트리 폴더, 기본값 `models`).
# 클래스는 `config.json`으로 다시 만들고 텐서는 safetensors로만 읽으므로, 아무것도
# unpickle하지 않습니다. 돌려받는 `Loaded`에는 평가 모드의 모델, 상태를 되찾은 DataModule
# (새 입력을 인코딩), 종류, 이름, 버전, 점수가 들어 있습니다. `litlab serve`도 이 함수를
# 씁니다.

# %%
from litlab.common import registry

image_name = z.STEPS[0].name
latest = registry.load(image_name, root=REGISTRY)
first = registry.load(f"{image_name}@v1", root=REGISTRY)
print(f"{latest.name}@{latest.version}: {latest.kind}, {latest.metric}")
print(f"{first.name}@{first.version}: {first.kind}, {first.metric}")
same = all(torch.equal(a, b) for a, b in zip(latest.model.state_dict().values(),
                                             first.model.state_dict().values()))
print("v1 and the latest hold the same weights (one checkpoint exported twice):", same)
assert same and latest.version != first.version

# %% [markdown]
# 불러온 모델로 CIFAR-10 테스트 이미지 하나를 분류합니다. 이미지는 uint8 텐서로 주면
# DataModule이 학습 때와 같은 방식으로 크기와 정규화를 맞춥니다.

# %%
from litlab.vision.data import CIFAR10DataModule

test_images, test_labels = CIFAR10DataModule(val_size=40 if TINY else 5000).arrays("test")
first_cat = int((test_labels == 3).nonzero()[0])  # class 3 of CIFAR-10 is "cat"
img, label = test_images[first_cat], int(test_labels[first_cat])
with torch.no_grad():
    probs = latest.model(latest.data.encode_images([img])).softmax(dim=1)[0]
top = probs.topk(3)
print("true class:", latest.data.classes[label])
for p, c in zip(top.values.tolist(), top.indices.tolist()):
    print(f"  {latest.data.classes[c]:<11}{p:.3f}")

# %% [markdown]
# ## 4. `litlab serve`와 JSON API
#
# `litlab serve`는 레지스트리의 모델을 한 프로세스, 한 포트에 올립니다. JSON API와 웹 앱이
# 함께 뜹니다. 터미널에서는 `litlab serve`(기본값 127.0.0.1:8000) 한 줄입니다. 여기서는 비어
# 있는 포트를 골라 별도 프로세스로 띄우고, `/health`가 답할 때까지 기다립니다. 서버는 이
# 컴퓨터 안(127.0.0.1)에서만 접속할 수 있습니다.

# %%
port = z.free_port()
URL = f"http://127.0.0.1:{port}"
log = WORK / "logs" / "notebooks" / "06_serve.log"
server = z.start_server(REGISTRY, port, log, ui=not TINY, models=tuple(s.name for s in z.STEPS))
waited = z.wait_until_ready(URL, server, log)
ready = time.perf_counter() - zero
print(f"litlab serve answered after {waited:.0f} s on {URL}")
print(httpx.get(f"{URL}/health").json())

# %% [markdown]
# API 문서는 `/docs`(OpenAPI)에 있습니다. 모델 목록부터 봅니다.

# %%
for m in httpx.get(f"{URL}/models").json():
    print(f"{m['name']}@{m['version']:<4} {m['kind']:<16} {m['metric']}")

# %% [markdown]
# **이미지 분류** `POST /classify`: 이미지 파일을 multipart로 보냅니다. 위에서 파이썬으로
# 분류한 그 이미지를 PNG로 보내고, 서버의 답이 파이썬에서 불러온 모델의 답과 같은지
# 확인합니다.

# %%
from torchvision.io import encode_png

png = encode_png(img).numpy().tobytes()
r = httpx.post(f"{URL}/classify", files={"file": ("cat.png", png, "image/png")},
               data={"model": image_name, "top_k": "3"}, timeout=60)
r.raise_for_status()
answer = r.json()
print(json.dumps(answer, indent=1, ensure_ascii=False))
for s in answer["top"]:
    assert abs(s["prob"] - probs[latest.data.classes.index(s["label"])].item()) < 1e-4
print("the server's probabilities = the registry model's in this notebook")

# %% [markdown]
# **감성 분석** `POST /sentiment`: 한국어 리뷰를 보내면 레이블, 확률, 그리고 단어별 기여도
# (통합 그래디언트, 04 노트북)를 돌려줍니다.

# %%
review = "배우들 연기가 정말 좋았고 마지막 장면은 감동적이었다"
r = httpx.post(f"{URL}/sentiment", json={"model": z.STEPS[1].name, "text": review,
                                         "attributions": True}, timeout=120)
r.raise_for_status()
s = r.json()
print(f"{s['label']}  {s['probs']}  warning: {s['warning']}")
for token, score in zip(s["tokens"], s["scores"]):
    print(f"  {token!r:<12}{score:+.3f}")

# %% [markdown]
# **글 생성** `POST /generate`: 답이 **스트리밍**으로 옵니다. 토큰이 만들어지는 대로
# 받아서 출력합니다(웹 앱의 글 생성 탭이 이렇게 보여 줍니다).

# %%
request = {"model": z.STEPS[2].name, "prompt": "ROMEO:", "max_new_tokens": 200,
           "temperature": 0.8, "top_k": 40, "seed": 1}
pieces = []
with httpx.stream("POST", f"{URL}/generate", json=request, timeout=120) as r:
    r.raise_for_status()
    for chunk in r.iter_text():
        pieces.append(chunk)
print(f"{len(pieces)} chunks streamed:\n")
print("ROMEO:" + "".join(pieces))

# %% [markdown]
# 잘못된 요청은 500이 아니라 이유를 담은 4xx로 답합니다. 없는 모델은 404, 모델의 어휘에
# 없는 글자로 된 프롬프트는 422입니다.

# %%
for body in ({"model": "no-such-model", "prompt": "ROMEO:"},
             {"model": z.STEPS[2].name, "prompt": "😀😀"}):
    r = httpx.post(f"{URL}/generate", json=body, timeout=60)
    print(r.status_code, r.json()["detail"])

# %% [markdown]
# ## 5. 웹 앱
#
# 브라우저에서 `http://127.0.0.1:8000/ui`(이 노트북의 서버는 위에서 고른 포트)를 엽니다.
# 이미지를 올리면 상위 클래스와 Grad-CAM을, 리뷰를 쓰면 단어별 기여도를, 프롬프트를 주면
# GPT가 이어 쓰는 글을 토큰 단위로 보여 줍니다. Generate 탭의 기본 프롬프트는 고른 모델을
# 따라갑니다(셰익스피어 모델은 `ROMEO:`, 한국어 챗봇은 `챗봇:`; 직접 쓴 프롬프트는 그대로
# 둡니다). 휴대폰 화면에서도 됩니다. 화면 모습은
# 저장소 README의 "Serve the models" 절에 스크린숏이 있습니다.

# %%
if not TINY:  # the tests serve the JSON API only (--no-ui), which starts faster
    r = httpx.get(f"{URL}/ui/", timeout=60, follow_redirects=True)
    print(f"GET /ui: {r.status_code}, {len(r.text):,} bytes of the web app")
print(f"from zero to the web app (this notebook: training, export, serve): "
      f"{ready / 60:.1f} min")
print(f"web app: {URL}/ui   API docs: {URL}/docs")

# %% [markdown]
# 서버는 아래 연습 문제에서도 쓰므로 노트북의 **맨 끝**에서 멈춥니다(터미널에서는 Ctrl-C).
#
# ## 정리
#
# | 단계 | 명령 | 파이썬 |
# |---|---|---|
# | 학습 | `litlab fit --config ...` | `litlab.common.cli.run(["fit", ...])` |
# | 레지스트리에 넣기 | `litlab export --ckpt ... --name ...` | `litlab.common.registry_export.export` |
# | 목록 | `litlab models` | `litlab.common.registry.list_models` |
# | 불러오기 | | `litlab.common.registry.load("이름@v1")` |
# | 서비스 | `litlab serve [--model 이름@v1] [--port 8000]` | HTTP: `/classify`, `/sentiment`, `/generate`, ... |
#
# 이것으로 학습 경로를 마칩니다. 텐서(01)에서 시작해 Lightning(02), CNN(03), RNN(04),
# Transformer(05)를 거쳐 웹 앱(06)까지 왔습니다. 다음 단계는 README의 실험표에 있는 더 큰
# 실험들을 돌려 보고, `experiments/`의 YAML을 복사해 나만의 실험을 만드는 것입니다.
#
# ## 연습 문제
#
# 1. **ONNX로 내보내기.** `litlab export --onnx`는 이미지 분류기를 `model.onnx`로도 내보내고
#    onnxruntime이 같은 답을 내는지 확인합니다. 파이썬에서 `export(..., onnx=True)`로 내보내고,
#    onnxruntime으로 위의 이미지를 분류해 PyTorch의 확률과 비교하세요.
# 2. **Grad-CAM을 API로.** `POST /explain/image`는 Grad-CAM 그림을 base64 PNG로 돌려줍니다.
#    위의 이미지를 보내고 그림을 표시하세요.
# 3. **언어 경고.** 한국어 감성 모델에 영어 리뷰를 보내면 `warning`에 무엇이 나오나요?
#
# ## 풀이

# %% jupyter={"source_hidden": true} tags=["solution"]
# 1. ONNX: a self-contained graph, checked by the export itself; run it with onnxruntime
import onnxruntime as ort

from litlab.common.registry_export import export

onnx_folder = export(trained[0].checkpoint, image_name, REGISTRY, onnx=True)
session = ort.InferenceSession(str(onnx_folder / "model.onnx"))
x = latest.data.encode_images([img]).numpy()
onnx_logits = session.run(None, {session.get_inputs()[0].name: x})[0]
onnx_probs = torch.from_numpy(onnx_logits).softmax(dim=1)[0]
print(f"{onnx_folder.relative_to(WORK)}: largest difference from PyTorch "
      f"{(onnx_probs - probs).abs().max().item():.1e}")
assert torch.allclose(onnx_probs, probs, atol=1e-4)

# %% jupyter={"source_hidden": true} tags=["solution"]
# 2. the Grad-CAM figure comes back as a base64 PNG
import base64
import io

r = httpx.post(f"{URL}/explain/image", files={"file": ("cat.png", png, "image/png")},
               data={"model": image_name}, timeout=120)
r.raise_for_status()
picture = plt.imread(io.BytesIO(base64.b64decode(r.json()["gradcam_png"])))
fig, ax = plt.subplots(figsize=(5, 2))
ax.imshow(picture)
ax.axis("off")
plt.show()  # the figure once (a bare `fig` would show it twice)

# %% jupyter={"source_hidden": true} tags=["solution"]
# 3. an English review sent to the Korean model: the answer carries a warning
r = httpx.post(f"{URL}/sentiment", json={"model": z.STEPS[1].name, "attributions": False,
               "text": "What a wonderful film, I loved every minute."}, timeout=60)
print(r.json()["label"], "| warning:", r.json()["warning"])

# %% [markdown]
# 끝으로 서버를 멈춥니다. 이 셀을 실행하면 위의 주소는 더 이상 답하지 않습니다.

# %%
code = z.stop_server(server)
print("litlab serve stopped, exit status", code)
try:
    httpx.get(f"{URL}/health", timeout=2)
    raise AssertionError("the server still answers")
except httpx.HTTPError:
    print("the port is closed")
