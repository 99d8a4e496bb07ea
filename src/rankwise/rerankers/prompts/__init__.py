"""Prompts as data: pointwise, reasoning and pairwise templates, the listwise prompts (rank_llm's among them),
and the pair-template encoder."""
