"""Retrieval backends (BM25 by default; ColPali-family backends behind the `colpali` extra)."""
