"""A pretrained Hugging Face encoder with a classification head: fine-tuning, the lesson.

    ids (B, T), lengths (B,) -> pretrained encoder (e.g. MiniLM: 6 BERT layers, 384 wide)
                             -> masked mean over the real tokens -> dropout -> linear -> logits

Pretraining on a large corpus has already taught the encoder what words mean; fine-tuning
only has to teach the small head (and nudge the encoder) what *this* task wants, which is why
it beats any network trained from scratch on a few thousand labels. The encoder comes from
``transformers`` (``AutoModel.from_pretrained``) out of the folder ``litlab.common.hub``
resolves (packaged MiniLM, a local folder or, online, a Hub name such as DistilBERT);
the DataModule must use the same model's tokenizer (``pretrained_tokenizer``).

It has the interface of every litlab text network, so ``TextClassifier`` trains it and the
callbacks, ``litlab explain`` and ``litlab serve`` read it: ``forward(ids, lengths)``,
``embedding`` (where integrated gradients attribute), ``attention_maps`` (every layer and
head) and, for layer-wise learning-rate decay, ``layer_depth(name)`` / ``n_depths``.
Padding is found from ``lengths``, as in the other networks, never from the ids.
"""

from __future__ import annotations

import re
from typing import Literal

import torch
from torch import Tensor, nn

from litlab.common.hub import resolve_pretrained

_LAYER = re.compile(r"\.layers?\.(\d+)\.")  # BERT/MiniLM "encoder.layer.3.", DistilBERT too


def load_encoder(model_name: str) -> nn.Module:
    """The pretrained encoder (no task head), SDPA attention, in training mode."""
    from transformers import AutoModel  # heavy import: only when a pretrained net is built

    folder = str(resolve_pretrained(model_name))
    model = AutoModel.from_pretrained(folder, attn_implementation="sdpa")
    model.train()  # from_pretrained returns eval mode: dropout would be off in fine-tuning
    if getattr(model, "pooler", None) is not None:
        model.pooler = None  # BERT's [CLS] pooler is not used by mean pooling: no dead weights
    return model


class PretrainedClassifier(nn.Module):
    """A pretrained encoder + pooling + linear; ``forward(ids, lengths) -> logits``.

    Args:
        model_name: ``"minilm"``, a Hugging Face model folder or (online) a Hub name; filled
            in from ``--data.init_args.pretrained_tokenizer`` by LitlabCLI.
        num_classes: output logits (filled in from the data).
        pooling: ``"mean"`` over the real tokens (how MiniLM's sentence embeddings were
            trained) or ``"cls"``: the first token's state (BERT's habit).
        dropout: before the head.
        vocab_size: the data's vocabulary, checked against the encoder's (filled in).
    """

    def __init__(
        self,
        model_name: str = "minilm",
        num_classes: int = 2,
        pooling: Literal["mean", "cls"] = "mean",
        dropout: float = 0.1,
        vocab_size: int | None = None,
    ) -> None:
        super().__init__()
        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        self.model_name, self.pooling, self.num_classes = model_name, pooling, num_classes
        self.encoder = load_encoder(model_name)
        rows = self.embedding.num_embeddings
        if vocab_size is not None and vocab_size > rows:
            raise ValueError(
                f"the data's vocabulary ({vocab_size}) is larger than {model_name}'s ({rows}): "
                "set --data.init_args.pretrained_tokenizer to the same model"
            )
        width = self.encoder.config.hidden_size
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(width, num_classes)
        nn.init.normal_(self.head.weight, std=0.02)  # BERT's initialisation of new layers
        nn.init.zeros_(self.head.bias)

    @property
    def embedding(self) -> nn.Embedding:
        """The token embedding (a property: registered once, under ``encoder``)."""
        return self.encoder.get_input_embeddings()

    @staticmethod
    def mask(ids: Tensor, lengths: Tensor) -> Tensor:
        """(B, T) True on the real tokens."""
        positions = torch.arange(ids.shape[1], device=ids.device)
        return positions[None, :] < lengths.to(ids.device)[:, None]

    def states(self, ids: Tensor, lengths: Tensor, attentions: bool = False):
        """The encoder's output: ``last_hidden_state`` (B, T, C), ``attentions`` if asked."""
        mask = self.mask(ids, lengths)
        return self.encoder(
            input_ids=ids, attention_mask=mask.long(), output_attentions=attentions
        ), mask

    def pool(self, h: Tensor, mask: Tensor) -> Tensor:
        """States (B, T, C) -> one vector per text (B, C)."""
        if self.pooling == "cls":
            return h[:, 0]
        m = mask[..., None].to(h.dtype)
        return (h * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        out, mask = self.states(ids, lengths)
        return self.head(self.drop(self.pool(out.last_hidden_state, mask)))

    @torch.no_grad()
    def attention_maps(self, ids: Tensor, lengths: Tensor) -> dict[str, Tensor]:
        """``{"layer0": (B, heads, T, T), ...}`` for every layer; padding rows/columns zero.

        SDPA does not return its weights, so the encoder runs once with eager attention."""
        self.encoder.set_attn_implementation("eager")
        try:
            out, mask = self.states(ids, lengths, attentions=True)
        finally:
            self.encoder.set_attn_implementation("sdpa")
        real = mask[:, None, :, None] & mask[:, None, None, :]
        return {f"layer{i}": w * real for i, w in enumerate(out.attentions)}

    # --- layer-wise learning-rate decay (litlab.common.optim.layer_decay_groups) -------------

    @property
    def n_depths(self) -> int:
        """Embeddings are depth 0, encoder layer i is i + 1, the head ``num_hidden_layers + 1``."""
        return int(self.encoder.config.num_hidden_layers) + 1

    def layer_depth(self, name: str) -> int:
        """The depth of parameter ``name`` (as in ``named_parameters()`` of this net)."""
        if name.startswith("encoder."):
            found = _LAYER.search(name)
            if found:
                return int(found.group(1)) + 1
            if "embeddings" in name:
                return 0
        return self.n_depths  # the head, and a final norm if the encoder has one

    def backbone(self) -> nn.Module:
        """What staged unfreezing freezes first (``litlab.common.callbacks.StagedUnfreeze``)."""
        return self.encoder
