"""The sentiment networks: padding and packing never change an output, masks come from lengths."""

from __future__ import annotations

import pytest
import torch

from litlab.sequence.sentiment.models import BiRNNClassifier, reverse_within


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_outputs_do_not_depend_on_padding_or_packing(cell):
    torch.manual_seed(0)
    packed = BiRNNClassifier(60, 2, 8, 8, num_layers=2, cell=cell).eval()
    padded = BiRNNClassifier(60, 2, 8, 8, num_layers=2, cell=cell, pack=False).eval()
    padded.load_state_dict(packed.state_dict())
    ids = torch.randint(2, 60, (3, 10))
    lengths = torch.tensor([10, 4, 7])
    ids[1, 4:] = ids[2, 7:] = 0
    batch = packed(ids, lengths)
    alone = torch.cat(
        [packed(ids[i : i + 1, :n], lengths[i : i + 1]) for i, n in enumerate([10, 4, 7])]
    )
    more_padding = packed(torch.cat([ids, torch.zeros(3, 5, dtype=torch.long)], 1), lengths)
    torch.testing.assert_close(batch, alone)
    torch.testing.assert_close(batch, more_padding)
    torch.testing.assert_close(padded(ids, lengths), batch)


def test_reverse_within_reverses_only_the_real_tokens():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])[..., None]
    assert reverse_within(x, torch.tensor([3, 2]))[..., 0].tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]


def test_pooling_masks_come_from_lengths_not_ids():
    model = BiRNNClassifier(30, 2, 8, 8).eval()
    all_padding = torch.zeros(2, 6, dtype=torch.long)  # integrated gradients' baseline
    w = model.pool_weights(all_padding, torch.tensor([6, 3]))
    torch.testing.assert_close(w.sum(dim=1), torch.ones(2))
    assert (w[1, 3:] == 0).all() and (w[1, :3] > 0).all()
