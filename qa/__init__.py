"""Extractive question answering over a corpus of news articles: ingest, index, retrieve, read, answer."""

__version__ = "0.1.0"
