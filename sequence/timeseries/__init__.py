"""Time-series forecasting: windows of one series, an LSTM forecaster, a seasonal-naive
baseline. ``data.py`` (DataModule), ``models.py`` (plain PyTorch), ``module.py`` (Lightning).
"""
