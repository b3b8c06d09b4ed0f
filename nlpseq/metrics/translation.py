"""Corpus BLEU and chrF with sacreBLEU, on detokenised output against the raw references.

sacreBLEU applies its own standard tokenisation (``13a``) to both sides, so scores compare across
toolkits; the signature records every setting (``nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|
version:2.x``) and goes into ``results.json`` beside the numbers.
"""

from __future__ import annotations

from typing import Any

from sacrebleu.metrics import BLEU, CHRF


def translation_metrics(hypotheses: list[str], references: list[str]) -> dict[str, Any]:
    """``bleu``, ``chrf`` (0-100), BLEU's brevity penalty and length ratio, and both signatures."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    bleu, chrf = BLEU(), CHRF()
    bleu_score = bleu.corpus_score(hypotheses, [references])
    chrf_score = chrf.corpus_score(hypotheses, [references])
    return {
        "bleu": bleu_score.score,
        "chrf": chrf_score.score,
        "brevity_penalty": bleu_score.bp,
        "length_ratio": bleu_score.sys_len / max(bleu_score.ref_len, 1),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
    }
