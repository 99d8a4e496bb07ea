"""LM backends: the few primitives rerankers need (embed texts, score pairs, next-token log-probs,
continuation log-likelihood), with device, dtype, batching and truncation handled once, here.
torch and transformers are imported inside these modules only when a backend is built."""
