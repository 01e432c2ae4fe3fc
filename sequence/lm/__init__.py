"""Language models: predict the next character (or subword) of Shakespeare with RNNs.

``data.ShakespeareDataModule`` (nanoGPT's ``shakespeare_char`` split, or byte-level BPE),
``models.RNNLanguageModel`` (plain PyTorch: RNN, LSTM or GRU, optional weight tying) and
``module.LanguageModel`` (Lightning: cross-entropy, perplexity, bits per character, samples).
"""
