"""Spoken-digit recognition: data.py (FSDD clips, features on the device), models.py (plain
PyTorch: a spectrogram CNN and the M5 waveform network), module.py (AudioClassifier)."""
