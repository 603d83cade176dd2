"""In-context learning: examples as records, shot selection (first, diverse, similar) and the example index."""
