"""A cheap language guess: the share of each language's commonest words among the first 2,000 words.

Good enough to label a document (it needs no model); "" when no language stands out.
"""

import re

STOPWORDS = {
    "en": "the and of to in is that for it with as was on be by this are or from at which not have an",
    "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch es an werden",
    "fr": "le la les de des et en un une du est que pour dans qui sur par pas au plus ne se il sont avec",
    "es": "el la de que y en los del se las por un para con no una su al es lo como más pero sus le",
    "it": "il di che la e per un in del della non una sono le si con da dei al nel è come anche gli",
    "nl": "de het een en van in is dat op te zijn met voor niet aan er die ook als bij door maar om",
    "pt": "de que e o da do em um para é com não uma os no se na por mais as dos como mas ao",
}
STOPWORD_SETS = {language: set(words.split()) for language, words in STOPWORDS.items()}
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def guess_language(text: str, *, sample_words: int = 2000) -> str:
    words = [w.group(0).lower() for w in WORD.finditer(text[: sample_words * 12])][:sample_words]
    if len(words) < 5:
        return ""
    scores = {lang: sum(1 for w in words if w in stop) for lang, stop in STOPWORD_SETS.items()}
    best = max(scores, key=scores.get)
    ranked = sorted(scores.values(), reverse=True)
    if ranked[0] < max(2, len(words) * 0.05) or ranked[0] < ranked[1] * 1.5:
        return ""
    return best
