"""Warm start: a network begins from the weights another run learned (pretrain -> fine-tune).

ULMFiT and BERT in one step: pretrain an encoder on unlabelled text (``MaskedLanguageModel``,
``litlab.transformer.mlm``), then start the classifier from it. The classifier's YAML names
the pretraining run with ``--model.init_args.pretrained``: a checkpoint file, or a run
folder (``logs/transformer/nsmc_mlm``: its newest ``version_N/checkpoints/best.ckpt``).

Every tensor whose name and shape match is copied; the report says how many were loaded and
names the rest (the new head, which pretraining never had, is expected there), so a silent
partial load cannot happen. The tokenizer must be the one the encoder was pretrained with:
``check_tokenizer`` compares the two runs' tokenizers and refuses a mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from litlab.common.errors import ConfigError


@dataclass
class WarmStart:
    """What :func:`warm_start` copied and what it left as initialised."""

    source: Path
    loaded: list[str] = field(default_factory=list)
    not_loaded: list[str] = field(default_factory=list)  # in the net, not in the checkpoint
    unused: list[str] = field(default_factory=list)  # in the checkpoint's net, not in ours
    tokenizer: dict | None = None  # the pretraining run's tokenizer state, if it kept one
    clashes: dict[str, tuple] = field(default_factory=dict)  # name -> (their, our shape)

    def check_shapes(self) -> None:
        """Refuse a warm start that would silently leave encoder weights fresh because a
        setting (``vocab_size``, ``d_model``, ...) differs from the pretraining run's."""
        if self.clashes:
            name, (theirs, ours) = next(iter(self.clashes.items()))
            raise ConfigError(
                f"{self.source} holds {', '.join(list(self.clashes)[:3])} in another shape than "
                f"this network (e.g. {name}: {theirs} vs {ours}): build the net and the data "
                "(vocab_size, d_model, ...) with the pretraining run's settings"
            )

    def summary(self) -> str:
        rest = ""
        if self.not_loaded:
            rest = f"; not loaded (initialised fresh): {', '.join(self.not_loaded)}"
        return f"warm start from {self.source}: {len(self.loaded)} tensors loaded{rest}"


def find_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or the newest ``version_N/checkpoints/best.ckpt`` of a run folder."""
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if (path / "checkpoints" / "best.ckpt").is_file():  # a version_N folder itself
        return path / "checkpoints" / "best.ckpt"

    def version(p: Path) -> str:
        return p.parts[-3].removeprefix("version_")

    runs = [p for p in path.glob("version_*/checkpoints/best.ckpt") if version(p).isdigit()]
    if runs:
        return max(runs, key=lambda p: int(version(p)))
    raise ConfigError(
        f"--model.init_args.pretrained={str(path)!r}: no checkpoint there (pass a .ckpt file or "
        "a run folder holding version_N/checkpoints/best.ckpt; run the pretraining first)"
    )


def warm_start(net: nn.Module, path: str | Path, prefix: str = "net.") -> WarmStart:
    """Copy the ``prefix``-ed tensors of checkpoint ``path`` into ``net`` where names and
    shapes match; the returned report names everything that did not."""
    source = find_checkpoint(path)
    try:
        ckpt = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ConfigError(f"{source} is not a readable PyTorch checkpoint ({err})") from err
    theirs = {
        k[len(prefix) :]: v for k, v in ckpt.get("state_dict", {}).items() if k.startswith(prefix)
    }
    ours = net.state_dict()
    report = WarmStart(source)
    matched = {}
    for name, tensor in ours.items():
        if name in theirs and theirs[name].shape == tensor.shape:
            matched[name] = theirs[name]
            report.loaded.append(name)
        else:
            report.not_loaded.append(name)
    report.unused = sorted(set(theirs) - set(matched))
    # same name, another shape: a setting differs (the head may: another number of classes)
    report.clashes = {
        n: (tuple(theirs[n].shape), tuple(ours[n].shape))
        for n in report.not_loaded
        if n in theirs and not n.startswith("head.")
    }
    if not matched:
        raise ConfigError(
            f"{source} holds no weights for this network (no tensor under '{prefix}' matches "
            "by name and shape): was it pretrained with the same net settings?"
        )
    net.load_state_dict(matched, strict=False)
    report.tokenizer = next(
        (v["tokenizer"] for v in ckpt.values() if isinstance(v, dict) and "tokenizer" in v), None
    )
    return report


def check_tokenizer(report: WarmStart, data: object) -> None:
    """Refuse to fine-tune with a different tokenizer than the one pretraining used: the
    encoder's embedding rows would mean other pieces."""
    tokenizer = getattr(data, "tokenizer", None)
    if report.tokenizer is None or tokenizer is None:
        return
    if tokenizer.state() != report.tokenizer:
        raise ConfigError(
            f"the data's tokenizer differs from the one {report.source} was pretrained with: "
            "use the same --data settings (vocab_size, val_size, seed, subset) as the pretraining"
        )
