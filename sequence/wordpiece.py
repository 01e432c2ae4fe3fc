"""PretrainedTokenizer: a pretrained model's own tokenizer behind litlab's tokenizer interface.

A pretrained encoder only understands the ids of the vocabulary it was trained with, so the
text DataModule must use *its* tokenizer (for BERT and MiniLM: uncased WordPiece, 30,522
pieces, ``[CLS] text [SEP]``) instead of training a BPE of its own. This wraps the
``tokenizer.json`` of a Hugging Face model folder (``tokenizers``, Rust, fast) in the shared
interface of ``litlab.sequence.tokenizers`` (``encode``/``encode_batch``/``decode``/
``token_strings``/``vocab_size``/``pad_id``/``unk_id``/``state``), so the DataModule, the
picture callbacks, ``litlab explain`` and ``litlab serve`` treat it as any other tokenizer.

``encode`` returns the text's pieces *without* the special tokens; the DataModule truncates
them and then calls ``add_special`` (``[CLS] ... [SEP]``), so a long review truncated
head + tail still ends in ``[SEP]``. The whole tokenizer travels in ``state()`` (inside
every checkpoint), so a checkpoint encodes new text without the model folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer


class PretrainedTokenizer:
    """A Hugging Face ``tokenizer.json`` (WordPiece, BPE or Unigram) with the shared interface."""

    kind = "pretrained"

    def __init__(self, tokenizer: Tokenizer) -> None:
        tokenizer.no_padding()  # the DataModule pads each batch to its longest text
        tokenizer.no_truncation()  # ... and truncates (head, tail or head + tail)
        self.tok = tokenizer
        vocab = tokenizer.get_vocab()
        # BERT's names first, then RoBERTa/XLM-R's; a tokenizer without them gets none
        self.cls_id = next((vocab[t] for t in ("[CLS]", "<s>") if t in vocab), None)
        self.sep_id = next((vocab[t] for t in ("[SEP]", "</s>") if t in vocab), None)
        self._pad = next((vocab[t] for t in ("[PAD]", "<pad>") if t in vocab), 0)
        self._unk = next((vocab[t] for t in ("[UNK]", "<unk>") if t in vocab), None)
        self.special_ids = {i for i in (self.cls_id, self.sep_id, self._pad) if i is not None}

    @classmethod
    def from_folder(cls, folder: str | Path) -> PretrainedTokenizer:
        """The ``tokenizer.json`` of a Hugging Face model folder."""
        path = Path(folder) / "tokenizer.json"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: a pretrained model folder needs its tokenizer.json "
                "(save one with transformers' tokenizer.save_pretrained(folder))"
            )
        return cls(Tokenizer.from_file(str(path)))

    @property
    def n_special(self) -> int:
        """How many ids ``add_special`` adds (2 for ``[CLS] ... [SEP]``)."""
        return (self.cls_id is not None) + (self.sep_id is not None)

    def add_special(self, ids: list[int]) -> list[int]:
        """``[CLS] ids [SEP]``: the input layout the model was pretrained on."""
        head = [self.cls_id] if self.cls_id is not None else []
        tail = [self.sep_id] if self.sep_id is not None else []
        return head + ids + tail

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    @property
    def pad_id(self) -> int:
        return self._pad

    @property
    def unk_id(self) -> int | None:
        return self._unk

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tok.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: Iterable[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=True)

    def token_strings(self, ids: Iterable[int]) -> list[str]:
        """Each piece as the vocabulary spells it (``"play"``, ``"##ing"``, ``"[CLS]"``)."""
        return [self.tok.id_to_token(i) for i in ids]

    def state(self) -> dict:
        return {"kind": "pretrained", "json": self.tok.to_str()}
