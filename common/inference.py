"""Inference without Lightning: trained models and their data rebuilt in plain PyTorch.

``litlab generate``, ``chat``, ``explain``, ``summarize``, ``score`` and ``serve`` need a
trained network and what its data knew (a tokenizer, class names, normalisation), not the
training machinery; importing Lightning (with torchmetrics) costs seconds. So each
LightningModule and DataModule those commands use is written in two parts:

- its *inference half*, a plain class in the domain's ``predict.py`` (no Lightning import):
  for a model an :class:`InferenceModule` with ``forward`` and the protocol methods of
  ``common/protocols.py`` part 3 (generation, the Grad-CAM layer, attention maps, sentence
  scores); for data a :class:`DataCodec` with ``state_dict`` / ``load_state_dict`` and the
  encoding of new inputs (protocols part 2: ``encode_images``, ``encode_texts``, a tokenizer
  and a prompt, ...), and the class attributes inference reads (``language``, ``speakers``);
- the Lightning class, which inherits its half and adds training: steps, metrics, loaders.

Each behaviour is written once, in the half, so what ``litlab explain`` computes is what the
callbacks draw during training. :data:`MODEL_HALVES` and :data:`DATA_HALVES` are the one
place that says which half serves which Lightning class, by class path (nothing is imported
until a checkpoint names it). A new domain adds its lines here, its ``predict.py``, and lets
its Lightning classes inherit the halves (``tests/test_inference.py`` checks that every entry
is such a pair, and that a Lightning subclass of a half is not forgotten). A class without
an entry (a seq2seq model, a forecaster, your own LightningModule) is loaded through
Lightning as before (``litlab.common.checkpoints.load_trained``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

_IMAGE = "litlab.vision.predict.ImageCodec"
_TEXT = "litlab.sequence.sentiment.predict.TextCodec"

# LightningModule -> its inference half (an InferenceModule)
MODEL_HALVES: dict[str, str] = {
    "litlab.vision.module.ImageClassifier": "litlab.vision.predict.ImagePredictor",
    "litlab.sequence.sentiment.module.TextClassifier":
        "litlab.sequence.sentiment.predict.TextPredictor",
    "litlab.common.language_model.LanguageModel":
        "litlab.common.language_predictor.LanguagePredictor",
    "litlab.transformer.module.GPTLanguageModel": "litlab.transformer.predict.GPTPredictor",
    "litlab.sequence.summarization.module.ExtractiveSummarizer":
        "litlab.sequence.summarization.predict.SummarizerPredictor",
    "litlab.audio.module.AudioClassifier": "litlab.audio.predict.AudioPredictor",
}  # fmt: skip

# LightningDataModule -> its inference half (a DataCodec); every concrete class is listed,
# since a subclass may set attributes inference reads (NSMC's language, a chat's speakers)
DATA_HALVES: dict[str, str] = {
    "litlab.vision.data.CIFAR10DataModule": _IMAGE,
    "litlab.vision.data.CIFAR100DataModule": _IMAGE,
    "litlab.vision.data.MNISTDataModule": _IMAGE,
    "litlab.vision.data.ImageFolderDataModule": _IMAGE,
    "litlab.sequence.sentiment.data.IMDBDataModule": _TEXT,
    "litlab.sequence.sentiment.data.SST2DataModule": _TEXT,
    "litlab.sequence.sentiment.data.NSMCDataModule":
        "litlab.sequence.sentiment.predict.KoreanTextCodec",
    "litlab.sequence.lm.data.ShakespeareDataModule": "litlab.sequence.lm.predict.ShakespeareCodec",
    "litlab.sequence.chat.data.KoreanChatDataModule": "litlab.sequence.chat.predict.ChatCodec",
    "litlab.sequence.chat.english.EnglishChatDataModule":
        "litlab.sequence.chat.predict.EnglishChatCodec",
    "litlab.sequence.chat.pretrain.KoreanReviewsDataModule":
        "litlab.sequence.chat.predict.KoreanReviewsCodec",
    "litlab.sequence.summarization.data.ExtractiveDataModule":
        "litlab.sequence.summarization.predict.SummaryCodec",
    "litlab.audio.data.FSDDDataModule": "litlab.audio.predict.AudioCodec",
}  # fmt: skip


class Hyperparameters(dict):
    """A Lightning class's ``hparams`` outside Lightning: its init arguments, read as
    attributes (``self.hparams.max_length``) as Lightning's ``AttributeDict`` allows."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as err:
            raise AttributeError(name) from err


def device_of(module: nn.Module) -> torch.device:
    """Where a module's weights are: a LightningModule's ``.device`` for any ``nn.Module``
    (an inference half has no ``.device``: defining one would hide Lightning's own)."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


class InferenceModule(nn.Module):
    """Base of a LightningModule's inference half: ``self.net`` (the plain network of a
    ``models.py``), ``self.hparams`` and the LightningModule's own buffers.

    A half defines methods only, never ``__init__``: the LightningModule that inherits it
    builds itself as before, and :meth:`rebuild` makes the half on its own from a checkpoint.
    Attributes its methods read that the LightningModule sets in ``__init__`` get a class-level
    default in the half.
    """

    @classmethod
    def prepare_net(cls, net: nn.Module, hparams: Mapping[str, Any]) -> nn.Module:
        """What the LightningModule's ``__init__`` does to the network (default: nothing)."""
        return net

    @classmethod
    def rebuild(
        cls, net: nn.Module, hparams: Mapping[str, Any], state: Mapping[str, Tensor]
    ) -> InferenceModule:
        """The half with ``net`` and the LightningModule's ``state_dict()`` ``state``, in eval
        mode. Keys without a dot are the LightningModule's own buffers (``vocab_limit``...)."""
        module = cls.__new__(cls)
        nn.Module.__init__(module)
        module.hparams = Hyperparameters(hparams)
        module.net = cls.prepare_net(net, module.hparams)
        for key, value in state.items():
            if "." not in key:
                module.register_buffer(key, torch.empty_like(value, device="cpu"))
        module.load_state_dict(state, strict=True)  # RuntimeError: the weights do not fit
        return module.eval()


class DataCodec:
    """Base of a DataModule's inference half: what the data knew (its ``state_dict``) and
    how new inputs are encoded with it. Methods and class attributes only, no ``__init__``;
    ``self.hparams`` holds the DataModule's init arguments."""

    @classmethod
    def rebuild(cls, hparams: Mapping[str, Any], state: Mapping[str, Any]) -> DataCodec:
        """The codec with the DataModule's init arguments and its ``state_dict()``."""
        codec = cls()
        codec.hparams = Hyperparameters(hparams)
        codec.load_state_dict(dict(state))
        return codec


def half_of(class_path: str, table: Mapping[str, str]) -> type | None:
    """The inference half listed for a Lightning class path, imported; None if none is."""
    target = table.get(class_path)
    if target is None:
        return None
    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _init_args(hparams: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in hparams.items() if k not in ("_class_path", "_instantiator")}


def build_net(spec: Mapping[str, Any]) -> nn.Module:
    """A network from its ``{"class_path", "init_args"}`` configuration, built the way
    LightningCLI builds it (jsonargparse: a GPT's ``config`` dict becomes its dataclass).
    The class path must already be translated and trusted (``common/checkpoints.py``)."""
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(nn.Module, "net", fail_untyped=False, required=True)
    return parser.instantiate_classes(parser.parse_object({"net": dict(spec)})).net


def rebuild_model(hparams: Mapping[str, Any], state: Mapping[str, Tensor]) -> nn.Module | None:
    """The inference half of the LightningModule that ``hparams`` describe (``_class_path``
    and its init arguments, with a ``net`` configuration) holding the weights of ``state``, in
    eval mode; None when the class has no half or no ``net`` to rebuild."""
    half = half_of(hparams["_class_path"], MODEL_HALVES)
    args = _init_args(hparams)
    if half is None or not isinstance(args.get("net"), Mapping):
        return None
    return half.rebuild(build_net(args["net"]), args, state)


def rebuild_data(hparams: Mapping[str, Any], state: Mapping[str, Any]) -> DataCodec | None:
    """The inference half of the DataModule that ``hparams`` describe, restored from its
    ``state_dict()`` ``state``; None when the class has no half or the state is empty (a
    checkpoint older than its DataModule's state: only the DataModule can work it out)."""
    half = half_of(hparams["_class_path"], DATA_HALVES)
    if half is None or not state:
        return None
    return half.rebuild(_init_args(hparams), state)
