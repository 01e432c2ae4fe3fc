"""A hierarchical sentence extractor (plain PyTorch): words -> sentences -> document -> scores.

    net = HierarchicalExtractor(vocab_size=8000)
    logits = net(ids, lengths)   # ids (B, S, T), lengths (B, S) -> logits (B, S), one per sentence

The shape of SummaRuNNer (Nallapati et al. 2017), small enough for a CPU:

1. a **sentence encoder**: token embeddings, a bidirectional GRU over each sentence's tokens,
   mean- and max-pooled into one vector per sentence (B, S, 2H);
2. a **document encoder**: a bidirectional GRU over the sentence vectors, so each sentence
   sees what comes before and after it (B, S, 2H);
3. **salience**: TextRank (a sentence is central when it shares content words with many
   central sentences) made learnable in ``graph.py``: whole words rebuilt from the subword
   ids, a learned weight per word, PageRank on the bags' cosine graph by power iteration, so
   gradients reach the words' weights; plus self-attention over the sentences so each can
   weigh the others;
4. a **scorer**: an MLP over [sentence, its document state, the document's mean state,
   attention output, graph features, sentence position] -> one logit, plus a linear path
   from the graph features straight to the logit. The MLP's last layer starts at zero, so
   an untrained net ranks sentences as the graph does; the position embedding lets it learn
   news's lead bias; the rest is what it can learn beyond Lead and TextRank.

Padding sentences (length 0) get a logit of -inf-like value from the caller's mask, never
a score of their own. GRUs run on packed sequences, so padding never enters a state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from litlab.sequence.summarization.graph import WordGraph


def _packed_gru(gru: nn.GRU, x: Tensor, lengths: Tensor) -> Tensor:
    """Run ``gru`` over x (N, T, E) with lengths (N,) >= 1; outputs (N, T, 2H), zeros past
    each length."""
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, _ = gru(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out


class HierarchicalExtractor(nn.Module):
    """Scores every sentence of a batch of documents for extraction (see the module doc).

    Args:
        vocab_size: embedding rows, at least the tokenizer's vocabulary (the data fills it
            in); ``pad_id`` marks padding.
        embed_dim, hidden: token embedding size and GRU width per direction.
        max_sentences: position embeddings cover this many sentences (later ones share the
            last position).
        dropout: on embeddings and before the scorer.
    """

    def __init__(
        self,
        vocab_size: int = 8000,
        embed_dim: int = 128,
        hidden: int = 128,
        max_sentences: int = 64,
        dropout: float = 0.2,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        self.vocab_size, self.max_sentences = vocab_size, max_sentences
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.words = nn.GRU(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.sentences = nn.GRU(4 * hidden, hidden, batch_first=True, bidirectional=True)
        self.position = nn.Embedding(max_sentences, 32)
        self.attend = nn.MultiheadAttention(2 * hidden, num_heads=4, batch_first=True)
        self.graph = WordGraph(vocab_size)  # TextRank's centrality, learnable (graph.py)
        self.dropout = nn.Dropout(dropout)
        self.scorer = nn.Sequential(
            nn.Linear(4 * hidden + 3 * 2 * hidden + 2 + 32, 2 * hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(2 * hidden, 1),
        )
        # "wide and deep": a linear path from the graph features (rank, mean similarity) to
        # the logit beside the MLP, whose last layer starts at zero; so training starts from
        # the graph's ranking (TextRank's answer) and learns what to change about it
        nn.init.zeros_(self.scorer[-1].weight)
        self.graph_weight = nn.Linear(2, 1)
        with torch.no_grad():  # logit 2 * (rank - 1): 0 for an average sentence (rank 1)
            self.graph_weight.weight.copy_(torch.tensor([[2.0, 0.0]]))
            self.graph_weight.bias.fill_(-2.0)

    def learn_lexicon(self, pieces: Sequence[str], stop_words: Iterable[Sequence[int]]) -> None:
        """Tell the graph which pieces make words, and which words are stop words (the
        data's ``lexicon()``); kept in buffers, so checkpoints carry it."""
        self.graph.learn_lexicon(pieces, stop_words)

    def encode_sentences(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids (B, S, T), lengths (B, S) -> sentence vectors (B, S, 4H): mean and max pools."""
        b, s, t = ids.shape
        flat_ids, flat_len = ids.reshape(b * s, t), lengths.reshape(b * s)
        real = flat_len > 0
        vectors = ids.new_zeros(b * s, 4 * self.words.hidden_size, dtype=torch.float)
        if real.any():
            x = self.dropout(self.embedding(flat_ids[real]))  # (N, T, E)
            out = _packed_gru(self.words, x, flat_len[real])  # (N, T, 2H)
            mask = (torch.arange(t, device=ids.device) < flat_len[real, None])[..., None]
            mean = (out * mask).sum(1) / flat_len[real, None]
            biggest = out.masked_fill(~mask, float("-inf")).amax(1)
            vectors = vectors.to(out.dtype)
            vectors[real] = torch.cat([mean, biggest], dim=-1)
        return vectors.reshape(b, s, -1)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids (B, S, T), lengths (B, S) -> logits (B, S); padding sentences have lengths 0."""
        n_sentences = (lengths > 0).sum(1).clamp_min(1)  # (B,)
        sentences = self.encode_sentences(ids, lengths)  # (B, S, 4H)
        doc = _packed_gru(self.sentences, sentences, n_sentences)  # (B, S, 2H)
        real = lengths > 0
        mean_doc = (doc * real[..., None]).sum(1, keepdim=True) / n_sentences[:, None, None]
        attended, _ = self.attend(doc, doc, doc, key_padding_mask=~real)  # (B, S, 2H)
        central = self.graph(ids, lengths)  # (B, S, 2): rank, mean similarity
        s = ids.shape[1]
        positions = torch.arange(s, device=ids.device).clamp_max(self.max_sentences - 1)
        features = torch.cat(
            [sentences, doc, mean_doc.expand(-1, s, -1), attended, central,
             self.position(positions).expand(ids.shape[0], -1, -1)], dim=-1,
        )  # fmt: skip
        return (self.scorer(self.dropout(features)) + self.graph_weight(central)).squeeze(-1)
