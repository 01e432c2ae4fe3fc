"""Transformers: a nanoGPT-style decoder, an encoder-decoder and an encoder classifier."""
