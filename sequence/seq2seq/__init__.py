"""Sequence to sequence: date normalisation ("25 Nov 2026", "2026년 11월 25일" -> "2026-11-25")
with a GRU encoder-decoder and hand-written attention. ``data.py`` (generated data and
DataModule), ``models.py`` (plain PyTorch), ``module.py`` (Lightning).
"""
