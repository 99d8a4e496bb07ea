"""Adapters that put rankwise rerankers where users already work (LangChain, LlamaIndex). Each module
imports its framework at import time, so import the one you use; each framework is an optional extra."""
