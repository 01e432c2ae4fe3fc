"""Long-range memory: why vanilla RNNs fail where LSTMs and GRUs learn.

The adding problem (Hochreiter & Schmidhuber 1997) hides two marked numbers in a long
sequence; the answer is their sum. A vanilla RNN's gradient with respect to early hidden
states shrinks geometrically with the distance, so it never learns to look back; the LSTM's
additive cell state (and the GRU's update gate) keep that gradient alive.
``data.AddingProblemDataModule``, ``models.RecurrentRegressor`` (plain PyTorch, with
``hidden_gradient_norms``), ``module.LongRangeModule``.
"""
