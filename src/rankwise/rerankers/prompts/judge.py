"""Relevance-judge prompts as data: the chat messages for a (query, passage) pair, how a grade is read from
the answer text, and which grade each answer token stands for (so that, where the backend gives log-probs,
the grade's distribution is read at the answer's position).

- `umbrela`: UMBRELA's prompt (castorini/umbrela 0.0.7, `prompts/qrel_fewshot_bing.txt`, zero-shot: its
  `{examples}` empty), sent as its GPT judge sends it (a "You are a helpful assistant." system turn, the
  prompt as the user turn), its answer read with its `parse_fewshot_response` patterns (a malformed answer
  is grade 0, as UMBRELA counts it);
- `graded`: a short 0-3 prompt with the same scale, answered with the digit alone;
- `yes-no`: a binary judge; yes is grade 2 (relevant at TREC DL's relevance level), no grade 0."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

UMBRELA_TEMPLATE = (
    "Given a query and a passage, you must provide a score on an integer scale of 0 to 3 with the following "
    "meanings:\n"
    "0 = represent that the passage has nothing to do with the query, \n"
    "1 = represents that the passage seems related to the query but does not answer it, \n"
    "2 = represents that the passage has some answer for the query, but the answer may be a bit unclear, or "
    "hidden amongst extraneous information and \n"
    "3 = represents that the passage is dedicated to the query and contains the exact answer.\n"
    "\n"
    "Following are some of the examples of relevance categorizations for different categories:\n"
    "\n"
    "{examples}\n"
    "\n"
    "Assume that you are writing a report on the subject of the topic. If you would use any of the information "
    "contained in the passage in such a report, mark it 1. If the passage is primarily about the topic mark it "
    "3, or contains vital information about the topic, mark it 2. Otherwise, mark it 0.\n"
    "\n"
    "Query: {query}\n"
    "Passage: {passage}\n"
    "\n"
    "Split this problem into steps:\n"
    "Consider the underlying intent of the search.\n"
    "Measure how well the content matches a likely intent of the query (M).\n"
    "Measure how trustworthy the web page is (T).\n"
    "Consider the aspects above and the relative importance of each, and decide on a final score (O). Final "
    "score must be an integer value only.\n"
    "Produce a JSON dictionary of scores without providing any reasoning."
)
# UMBRELA's parse_fewshot_response, in its order: the first pattern that matches the lower-cased answer wins.
UMBRELA_PATTERNS = (
    r'"o": (0|1|2|3)',
    r'"overall_score": (0|1|2|3)',
    r'"overall": (0|1|2|3)',
    r'"overall score": (0|1|2|3)',
    r'"final score": (0|1|2|3)',
    r'"final_score": (0|1|2|3)',
    r'"score": (0|1|2|3)',
    r'"o_score": (0|1|2|3)',
)

GRADED_TEMPLATE = (
    "Rate how relevant the passage is to the search query on a scale of 0 to 3:\n"
    "0 = the passage has nothing to do with the query,\n"
    "1 = the passage is related to the query but does not answer it,\n"
    "2 = the passage has some answer for the query, but unclear or hidden among other information,\n"
    "3 = the passage is dedicated to the query and contains the exact answer.\n"
    "\n"
    "Query: {query}\n"
    "Passage: {passage}\n"
    "\n"
    "Answer with the number only."
)
YES_NO_TEMPLATE = (
    "Does the passage answer the search query?\n\nQuery: {query}\nPassage: {passage}\n\nAnswer with yes or no only."
)


@dataclass(frozen=True)
class JudgePrompt:
    """`template` has {query} and {passage} (and {examples} for UMBRELA); `patterns` read the grade from
    the lower-cased answer (the first group of the first match), `grades` map what they capture to a grade,
    and `malformed_grade` is what an answer nothing matches counts as (its judgment marked invalid)."""

    name: str
    template: str
    system: str | None
    patterns: tuple[str, ...]
    grades: dict[str, int] = field(default_factory=lambda: {str(g): g for g in range(4)})
    malformed_grade: int = 0
    max_answer_tokens: int = 100

    def messages(self, query: str, passage: str) -> list[dict[str, str]]:
        fields = {"query": query, "passage": passage}
        if "{examples}" in self.template:
            fields["examples"] = ""  # zero-shot: UMBRELA's few-shot examples come from a qrels and an index
        user = self.template.format(**fields)
        return ([{"role": "system", "content": self.system}] if self.system else []) + [
            {"role": "user", "content": user}
        ]

    def parse(self, answer: str) -> tuple[int, int | None]:
        """(grade, character offset in `answer` of what was read), or (malformed_grade, None)."""
        lowered = answer.strip().lower()
        offset = len(answer) - len(answer.lstrip())
        for pattern in self.patterns:
            matched = re.search(pattern, lowered, re.IGNORECASE | re.MULTILINE | re.DOTALL)
            if matched:
                return self.grades[matched.group(1)], offset + matched.start(1)
        return self.malformed_grade, None


UMBRELA = JudgePrompt("umbrela", UMBRELA_TEMPLATE, "You are a helpful assistant.", UMBRELA_PATTERNS)
GRADED = JudgePrompt("graded", GRADED_TEMPLATE, None, (r"\b(0|1|2|3)\b",), max_answer_tokens=8)
YES_NO = JudgePrompt(
    "yes-no", YES_NO_TEMPLATE, None, (r"\b(yes|no)\b",), grades={"yes": 2, "no": 0}, max_answer_tokens=8
)
