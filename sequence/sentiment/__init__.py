"""Sentiment classification: IMDB, SST-2 and Korean NSMC with a bidirectional RNN.

``data.py`` holds the DataModules (one base class, one small subclass per data set),
``models.py`` the plain-PyTorch network (embedding -> packed BiLSTM/GRU -> attention
pooling -> linear) and ``module.py`` the LightningModule that trains it.
"""
