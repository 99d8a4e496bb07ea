"""Judgments for your own data: an LLM relevance judge (`llm_judge`), judgments kept on disk as they are
made (`store`), pools of pairs worth judging (`pool`), and agreement between two sets of judgments
(`agreement`)."""
