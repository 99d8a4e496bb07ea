"""Pairwise and setwise prompts: PRP's two-passage question and the setwise "most relevant of these" one."""

from __future__ import annotations

from rankwise.rerankers.prompts.shapes import ChatPrompt, ListPrompt

# PRP (Qin et al., 2024; llm-rankers' pairwise.py): the answer starts "Passage", so the next token is the letter.
PRP = ChatPrompt(
    system=None,
    user='Given a query "{query}", which of the following two passages is more relevant to the query?\n'
    'Passage A: "{passage_a}"\nPassage B: "{passage_b}"\nOutput Passage A or Passage B:',
)

# Setwise (Zhuang et al., 2024; llm-rankers' setwise.py): the identifier of the most relevant passage.
SETWISE = ListPrompt(
    system=None,
    user='Given a query "{query}", which of the following passages is the most relevant one to '
    "the query?\n\n{passages}\n\nOutput only the identifier of the most relevant passage, "
    "e.g. [{example}]:",
    passage='Passage [{label}]: "{passage}"',
    separator="\n\n",
    example="{first}",
    escape_identifiers=False,
)
