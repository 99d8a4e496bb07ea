"""Wrappers that answer for another reranker: the result cache, calibration, long documents."""
