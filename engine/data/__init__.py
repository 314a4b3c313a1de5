"""Data loading: hub datasets, local files, package data; tokenization cache."""
