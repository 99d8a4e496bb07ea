"""Embedding and late-interaction methods: bi-encoder cosine, Rocchio PRF, E2Rank, Fast-Forward, zero-shot
MaxSim, ColBERT, and where passage vectors come from."""
