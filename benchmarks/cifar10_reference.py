"""The cifar10_fast recipe in plain PyTorch, airbench-style: the reference litlab is timed against.

    python benchmarks/cifar10_reference.py [--device cuda] [--epochs 12] [--steps N] [--out f.json]

Same network (``litlab.vision.models.AirbenchNet``, whitened from 5,000 training images),
same data tensors (the decoded CIFAR-10 cache, the same 5,000 validation images), same
optimizer (Nesterov SGD on ``decay_groups``), schedule (``step_schedule``'s one-cycle), label
smoothing, augmentation (``litlab.vision.augment``), precision (bf16 autocast on a GPU with
bf16, fp32 on the CPU) and test-time flip as ``experiments/vision/cifar10_fast.yaml``, read
from that file. The loop is KellerJordan/cifar10-airbench's: the whole data set on the
device, each epoch's order drawn there, batches gathered and augmented there, and nothing in
a step that waits for the GPU. It validates after the same epochs as ``litlab fit`` does
(``check_val_every_n_epoch``), reading the accuracy once per validation, and those
validations count in the training time, as they do in Lightning's.

Reported (printed, and as JSON with ``--out``): ``train_s`` from the start of the first
step to the end of the last epoch; ``step_s`` per step after ``--warmup`` steps; the
validation accuracy after each validation; ``test_acc`` and ``test_s``, apart. ``--steps N``
stops after N steps (no validation: a per-step measurement for slow devices). Lightning is
never imported. ``benchmarks/cifar10_speed.py`` runs this and ``litlab fit`` side by side.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

from litlab.common.data import locate_dataset, resolve_data_root
from litlab.common.optim import decay_groups, step_schedule
from litlab.vision import augment
from litlab.vision.airbench import AirbenchNet
from litlab.vision.datasets import read_image_source

REPO = Path(__file__).resolve().parents[1]
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # CIFAR10DataModule's


def recipe(config: Path) -> dict:
    """The hyper-parameters of an experiment YAML that the reference needs."""
    cfg = yaml.safe_load(config.read_text())
    model, data = cfg["model"]["init_args"], cfg["data"]["init_args"]
    trainer = cfg.get("trainer", {})
    return {
        "widths": model["net"]["init_args"]["widths"],
        "lr": model["lr"],
        "momentum": model["momentum"],
        "weight_decay": model["weight_decay"],
        "warmup": model["warmup"],
        "label_smoothing": model["label_smoothing"],
        "channels_last": model.get("channels_last", False),
        "tta_flip": model.get("tta_flip", False),
        "batch_size": data["batch_size"],
        "val_size": data["val_size"],
        "epochs": trainer.get("max_epochs", 10),
        "val_every": trainer.get("check_val_every_n_epoch", 1),
    }


def load_splits(root: str | None, val_size: int, seed: int = 0) -> dict[str, tuple]:
    """uint8 images and labels of train / val / test, split as ``ImageDataModule.setup``."""
    path = locate_dataset(  # the files CIFAR10DataModule.locate looks for, offline first
        resolve_data_root(root),
        "CIFAR-10",
        layouts=["cifar-10-batches-py", "cifar10/cifar-10-batches-py"],
        archives=["cifar-10-python.tar.gz", "cifar10/cifar-10-python.tar.gz"],
        image_archives=["cifar10/cifar10_jpg.tar.gz", "cifar10_jpg.tar.gz", "cifar10/cifar10_jpg"],
    )
    s = read_image_source(path)
    perm = torch.randperm(len(s.train_labels), generator=torch.Generator().manual_seed(seed))
    train, val = perm[val_size:], perm[:val_size]
    return {
        "train": (s.train_images[train], s.train_labels[train]),
        "val": (s.train_images[val], s.train_labels[val]),
        "test": (s.test_images, s.test_labels),
    }


def whitening_images(images: torch.Tensor, labels: torch.Tensor, n: int = 5000) -> torch.Tensor:
    """The first n / 10 training images of each class, as ``probe_batch(5000, "train")``."""
    per_class = n // int(labels.max() + 1)
    idx = torch.cat([torch.nonzero(labels == c).flatten()[:per_class] for c in labels.unique()])
    return images[idx]


@torch.no_grad()
def evaluate(net, images, labels, batch: int, tta: bool, layout) -> torch.Tensor:
    """Accuracy (a 0-dim tensor on the device: read it when you need it) with flip TTA."""
    net.eval()
    correct = torch.zeros((), dtype=torch.long, device=images.device)
    for i in range(0, len(images), batch):
        x = layout(augment.normalize(images[i : i + batch], MEAN, STD))
        logits = net(x)
        if tta:
            logits = (logits + net(layout(x.flip(-1)))) / 2
        correct += (logits.argmax(-1) == labels[i : i + batch]).sum()
    net.train()
    return correct / len(images)


def sync(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=REPO / "experiments/vision/cifar10_fast.yaml")
    p.add_argument("--root", default=None, help="data root (default $DATA_DIR, else ./data)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--epochs", type=int, default=None, help="default: the YAML's max_epochs")
    p.add_argument("--steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--batch-size", type=int, default=None, help="default: the YAML's")
    p.add_argument("--warmup", type=int, default=5, help="steps before the per-step clock")
    p.add_argument("--compile", action="store_true", help="torch.compile the network")
    p.add_argument("--no-test", action="store_true", help="skip the test-set evaluation")
    p.add_argument("--seed", type=int, default=42, help="litlab fit's seed_everything default")
    p.add_argument("--out", type=Path, default=None, help="write the figures here as JSON")
    args = p.parse_args(argv)
    r = recipe(args.config)
    epochs, bs = args.epochs or r["epochs"], args.batch_size or r["batch_size"]
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    splits = load_splits(args.root, r["val_size"])
    splits = {k: (x.to(device), y.to(device)) for k, (x, y) in splits.items()}  # once
    train_x, train_y = splits["train"]
    steps_per_epoch = len(train_y) // bs  # drop_last, as the Lightning loader
    total = min(args.steps or epochs * steps_per_epoch, epochs * steps_per_epoch)
    if args.steps:
        epochs = -(-total // steps_per_epoch)

    def layout(x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if r["channels_last"] else x

    net = AirbenchNet(widths=tuple(r["widths"])).to(device)
    if r["channels_last"]:
        net = net.to(memory_format=torch.channels_last)
    net.initialize_from_data(augment.normalize(whitening_images(*splits["train"]), MEAN, STD))
    step_net = torch.compile(net) if args.compile else net
    opt = torch.optim.SGD(decay_groups(net, r["weight_decay"]), lr=r["lr"],
                          momentum=r["momentum"], nesterov=True)  # fmt: skip
    sched = step_schedule(opt, "onecycle", total, r["warmup"], 1e3)["lr_scheduler"]["scheduler"]
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

    curve, step, start, warm = [], 0, None, None
    for epoch in range(epochs):
        order = torch.randperm(len(train_y), device=device)  # the epoch's order, on the device
        for i in range(steps_per_epoch):
            if step == total:
                break
            if step == 0:
                start = sync(device)
            if step == args.warmup:
                warm = sync(device)
            idx = order[i * bs : (i + 1) * bs]
            x = augment.batch_flip(augment.batch_translate(train_x[idx], 4))
            x = layout(augment.normalize(x, MEAN, STD))
            with autocast:
                logits = step_net(x)
                loss = F.cross_entropy(logits, train_y[idx], label_smoothing=r["label_smoothing"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
        if not args.steps and ((epoch + 1) % r["val_every"] == 0):
            with autocast:
                acc = evaluate(step_net, *splits["val"], 2 * bs, r["tta_flip"], layout)
            curve.append((epoch + 1, round(float(acc), 4), round(sync(device) - start, 3)))
    end = sync(device)
    out = {
        "train_s": end - start,
        "steps": step,
        "step_s": (end - warm) / (step - args.warmup) if warm is not None else None,
        "val_curve": curve,  # (epoch, accuracy, seconds since the first step)
        "val_acc": curve[-1][1] if curve else None,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
    }
    if not args.no_test:
        t = sync(device)
        with autocast:
            acc = evaluate(step_net, *splits["test"], 2 * bs, r["tta_flip"], layout)
        out["test_acc"] = round(float(acc), 4)
        out["test_s"] = sync(device) - t
    print("reference:", json.dumps(out), flush=True)
    if args.out:
        args.out.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
