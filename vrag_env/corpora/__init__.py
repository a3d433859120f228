"""Built-in and ingested corpora."""
