"""In-context reranking's prompt pieces (ICR, Chen et al., ICLR 2025; its authors' code): the passages after
an instruction, then the late instruction and the query whose attention is read; "N/A" is the content-free
query of its calibration."""

from __future__ import annotations

ICR_INSTRUCTION = "Here are some paragraphs:"
ICR_LATE_INSTRUCTION = "Please find information that are relevant to the following query in the paragraphs above."
ICR_CALIBRATION_QUERY = "N/A"
