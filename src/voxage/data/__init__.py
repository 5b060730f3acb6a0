"""Data: read corpora, clean, cache features, balance and split by speaker."""
