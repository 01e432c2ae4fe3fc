"""Pretrained sentence embeddings + logistic regression: the fast first step with a transformer.

Before fine-tuning anything, ask what a pretrained encoder already knows: run every text
through frozen MiniLM once (no gradients, so any laptop does it), mean-pool its token states
(as the model was trained to make sentence embeddings) and fit scikit-learn's logistic
regression on the 384 numbers per text. This is "pretrained features + a linear model",
beside TF-IDF's "counted features + a linear model" (``text_baselines.py``), on the same
splits: the DataModule (with ``pretrained_tokenizer``) splits, tokenizes and truncates.

The regularisation strength ``C`` is chosen on the validation texts (never the test texts).
Embeddings are cached per data set and settings, so a second run takes seconds.
``litlab baseline --dataset sst2 --text-models minilm_logreg`` runs it.
"""

from __future__ import annotations

import time

import torch
from sklearn.linear_model import LogisticRegression
from tqdm.auto import tqdm

from litlab.common.data import cache_dir, cache_key
from litlab.common.tensor_cache import cached_object
from litlab.sequence.sentiment.batching import pad_tokens
from litlab.sequence.sentiment.text_classification import TextClassificationDataModule
from litlab.transformer.pretrained import PretrainedClassifier, load_encoder

C_GRID = (0.1, 1.0, 10.0, 100.0)


@torch.inference_mode()
def embed(
    encoder: torch.nn.Module,
    rows: list[list[int]],
    pad_id: int,
    batch_size: int = 64,
    desc: str = "",
) -> torch.Tensor:
    """Mean-pooled, L2-normalised states (N, C) of token-id rows; batches of similar length."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    out = torch.empty(len(rows), encoder.config.hidden_size)
    for start in tqdm(range(0, len(rows), batch_size), desc=desc, unit="batch", leave=False):
        idx = order[start : start + batch_size]
        ids, lengths = pad_tokens([rows[i] for i in idx], pad_id)  # (B, T), (B,)
        mask = PretrainedClassifier.mask(ids, lengths)
        h = encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state  # (B, T, C)
        m = mask[..., None].float()
        pooled = (h * m).sum(1) / m.sum(1).clamp_min(1.0)
        out[idx] = torch.nn.functional.normalize(pooled, dim=-1)
    return out


def split_embeddings(
    dm: TextClassificationDataModule, model_name: str
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """(embeddings, labels) of train, val and test; cached on disk by data and settings."""
    dm.setup()
    hp = dm.hparams
    key = cache_key(
        *dm._sources, extra=f"{dm.name}|{model_name}|{hp.max_length}|{hp.truncation}|{hp.val_size}"
    )
    path = cache_dir("embeddings") / f"{dm.name}-{model_name.replace('/', '_')}-{key}.pt"

    def build() -> dict:
        encoder = load_encoder(model_name).eval()
        return {
            s: (embed(encoder, dm.encoded[s][0], dm.pad_id, desc=f"{dm.name} {s}"),
                torch.tensor(dm.encoded[s][1]))
            for s in ("train", "val", "test")
        }  # fmt: skip

    def check(value: dict) -> None:
        if set(value) != {"train", "val", "test"}:
            raise ValueError("not the three splits")

    return cached_object(path, build, check)


def run_embedding_baseline(
    data_cls: type[TextClassificationDataModule],
    root: str | None,
    val_size: int = 2000,
    model_name: str = "minilm",
    max_length: int = 128,
    seed: int = 0,
) -> list[dict]:
    """Frozen ``model_name`` embeddings + logistic regression (C picked on validation)."""
    dm = data_cls(
        root=root, val_size=val_size, seed=0, pretrained_tokenizer=model_name,
        max_length=max_length, truncation="head_tail",
    )  # fmt: skip
    t = time.perf_counter()
    emb = split_embeddings(dm, model_name)
    embed_seconds = time.perf_counter() - t
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (
        (x.numpy(), y.numpy()) for x, y in (emb["train"], emb["val"], emb["test"])
    )
    t = time.perf_counter()
    fits = []
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(x_tr, y_tr)
        fits.append((float((model.predict(x_va) == y_va).mean()), c, model))
    val_acc, best_c, model = max(fits, key=lambda f: f[0])
    fit_seconds = time.perf_counter() - t
    acc = float((model.predict(x_te) == y_te).mean())
    name = f"{model_name}_logreg"
    print(
        f"{dm.name:8s} {name:14s} test acc {acc:.4f}  (C={best_c}, val {val_acc:.4f}; "
        f"embedding {embed_seconds:.0f} s, fit {fit_seconds:.0f} s)",
        flush=True,
    )
    return [
        {
            "dataset": dm.name,
            "model": name,
            "test_acc": acc,
            "val_acc": val_acc,
            "C": best_c,
            "max_length": max_length,
            "embed_seconds": round(embed_seconds, 1),
            "train_seconds": round(fit_seconds, 1),
            "train_size": len(y_tr),
            "test_size": len(y_te),
        }
    ]
