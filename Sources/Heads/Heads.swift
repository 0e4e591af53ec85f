// Heads: projection heads trained on pre-encoded embeddings (seed 002) and their losses.
