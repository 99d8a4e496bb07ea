"""The source texts of encoder-decoder rerankers (T5 family), each as its authors' code writes it."""

from __future__ import annotations

# monoT5 (pygaggle MonoT5; rerankers 0.10 T5Ranker): P(true) at the first decoder step.
MONOT5 = "Query: {query} Document: {passage} Relevant:"
# RankT5 (Zhuang et al., 2023, as lightning-ir 0.0.6 scores Soyoung97/RankT5): the raw logit of <extra_id_10>.
RANKT5 = "Query: {query} Document: {passage}"
# duoT5 (pygaggle DuoT5): P(true) that the first passage is the more relevant.
DUOT5 = "Query: {query} Document0: {passage_a} Document1: {passage_b} Relevant:"
# LiT5 (rank_llm 0.26 rank_fid_template.yaml): one source per passage, fused in the decoder.
LIT5 = "Search Query: {query} Passage: [{label}] {passage} Relevance Ranking: "
# ListT5 (Soyoung97/ListT5 run_listt5.py make_listwise_text): one source per passage, indices from 1, fused in the
# decoder, which lists them from the least to the most relevant.
LISTT5 = "Query: {query}, Index: {label}, Context: {passage}"
# MVP (PirateEra/MVP inference/evaluation.py make_listwise_text): the view markers <extra_id_0>...<extra_id_{v-1}>
# first, then the query and the passage; one source per passage.
MVP = "{markers} | Query: {query} | Context: {passage}"
