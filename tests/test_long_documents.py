"""Long documents split into exact passages and scored by MaxP, FirstP or SumP, naming the best passage."""

from __future__ import annotations

import pytest

from rankwise import OptionError, Reranker
from rankwise.rerankers.wrappers.long_documents import passage_spans

FILLER = " ".join(["The harbour market sells antiques, records and old postcards on Sundays."] * 30)
ANSWER = "An adult flea usually lives two to three months, sometimes more than a year."
QUERY = "how long do fleas live"


def test_passage_spans_cover_the_text_with_overlap():
    offsets = [(i * 2, i * 2 + 1) for i in range(10)]  # ten one-character tokens, a space between
    assert passage_spans(offsets, 4, 2) == [(0, 7), (4, 11), (8, 15), (12, 19)]
    assert passage_spans(offsets, 20, 10) == [(0, 19)]
    assert passage_spans([], 4, 2) == [(0, 0)]


def test_maxp_finds_the_answer_buried_in_a_long_document(minilm):
    buried = FILLER + " " + ANSWER + " " + FILLER  # about 800 tokens; MiniLM reads 256
    short = "Flea collars are sold in pet shops."
    truncated = minilm.rerank(QUERY, [buried, short])
    assert truncated.docids == ["1", "0"]  # the answer is past MiniLM's window: silently lost
    maxp = Reranker.load("minilm-embed", long_documents="maxp", passage_tokens=64, passage_stride=32)
    ranking = maxp.rerank(QUERY, [buried, short])
    assert ranking.docids == ["0", "1"]
    passage = ranking[0].metadata["passage"]
    assert ANSWER in buried[passage["start"] : passage["end"]] and passage["of"] > 10
    assert ranking[1].metadata["passage"] == {"index": 0, "start": 0, "end": len(short), "of": 1}
    firstp = Reranker.load("minilm-embed", long_documents="firstp", passage_tokens=64)
    assert firstp.rerank(QUERY, [buried, short]).docids == ["1", "0"]  # the first passage is only filler
    # a document that fits one passage scores exactly as without splitting
    assert maxp.rerank(QUERY, [short])[0].score == pytest.approx(minilm.rerank(QUERY, [short])[0].score, abs=1e-6)


def test_bad_long_document_options_are_named():
    with pytest.raises(OptionError, match="option long_documents must be one of 'maxp', 'firstp', 'sump'"):
        Reranker.load("minilm-embed", long_documents="best")
    with pytest.raises(OptionError, match="passage_stride"):
        Reranker.load("minilm-embed", long_documents="maxp", passage_tokens=16, passage_stride=32)
