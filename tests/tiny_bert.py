"""A tiny random BERT in the Hugging Face folder layout: fast stand-in for a pretrained model.

``config.json``, ``model.safetensors`` and a WordPiece ``tokenizer.json`` (uncased, ``[CLS]``
/ ``[SEP]`` template, as MiniLM's), so every code path that takes a model folder (the hub
resolver, ``PretrainedClassifier``, ``PretrainedTokenizer``, the DataModule) runs in
milliseconds. Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

from text_data import FILLER_EN, NEG_EN, POS_EN
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def write_tiny_bert(folder: Path, hidden: int = 32, layers: int = 2, heads: int = 2) -> Path:
    """Write the folder and return it."""
    from transformers import BertConfig, BertModel

    folder.mkdir(parents=True, exist_ok=True)
    words = sorted({w.lower() for w in FILLER_EN + POS_EN + NEG_EN})
    pieces = ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"] + list("abcdefghijklmnopqrstuvwxyz")
    vocab = {t: i for i, t in enumerate(dict.fromkeys(SPECIALS + pieces + words + list(".,!?")))}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tok.save(str(folder / "tokenizer.json"))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=2 * hidden,
        max_position_embeddings=128,
        pad_token_id=0,
    )
    BertModel(config).save_pretrained(str(folder))
    return folder
