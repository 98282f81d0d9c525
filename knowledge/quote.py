"""Facts from the documents: the retrieved passage that answers the question, quoted.

A 135M model writes the answer's tone and shape but often not its fact (on the sample QA set
the tuned model's answers held the reference's key fact for 10 of 90 questions). So after the
grounding guard, the engine quotes the retrieved sentence that best answers the question with
the better of its two neighbours (a rule and its exception) and a runner-up that scores close
to it or, when it belongs to a list, the list with its introduction (a long one: the
introduction and its best item); less what the answer already says, with citations, in the
documents' order. When the guard left nothing grounded but the best sentence
is close enough, the quotes are the answer. A list's lines about cases the question does not
name are never candidates ("How fast on Business?" never quotes Free's line,
``knowledge.cases``), and the line of the case it names is quoted after the best sentence
when its title and heading bring it closer to the question.

A sentence's score (``Quoter.best``) adds four signals, each catching what the others miss:
its MiniLM cosine to the question, the cosine of "chunk title › section heading: sentence" (a
list item such as "Up to 10 members." says which plan only in its heading), the cosine of its
section heading alone ("Password requirements" for "What are the password rules?"), and the
share of the question's rare words it holds (a local IDF over the retrieved sentences: "wire",
"PDF"); less a penalty per retrieval rank of its chunk. Weights chosen on the e-manual
training questions (quotes alone, ROUGE-L against the reference: two closest sentences 0.380,
title and rare words 0.446, with the heading 0.448 — the e-manual's chunks have a title and no
sections, so there the heading is the title); carried over to the sample company's QA, the
key facts quoted alone rose from 47 to 55 of 90 with the title and rare words, and (yes/no
aside) from 55 to 61 of 88 with the headings and whole lists. The embeddings of texts seen
before are cached, as retrieved chunks recur across questions.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from knowledge.cases import asked_case, item_label, names_label
from knowledge.facts import (
    ABOUT_ITSELF,
    Evidence,
    SourceSentence,
    content_words,
    facts,
    missing,
    source_structure,
    stem,
)

# A sentence this close to the question (cosine) answers it alone when the model's answer had
# nothing grounded: on the sample QA set's tuned answers, answerable questions declined fell
# from 18 to 11 of 90 and unanswerable ones declined from 14 to 13 of 16 (0.55: 10 and 11).
ANSWER_SIMILARITY = 0.6
# ... or when its score (``Quoter.best``) is this high. Chosen on 300 e-manual training
# questions asked of two indexes: the e-manual's, where 89% lead at 1.10, and the sample
# company's, where 6% do. The share apart (Youden's J) is 0.83 there, 0.84 at its peak (1.04);
# of the 17 questions the other index leads between 1.04 and 1.16, those under 1.10 are about
# the TV (scheduled recordings, the clock) and those above mostly ask what the company's
# documents answer too (notifications, accessibility shortcuts). Before the section headings
# counted, 1.03 (chosen on the sample QA set) led 85% and 5%.
ANSWER_SCORE = 1.10
# The answer already says the sentence when it holds this share of the sentence's words.
COVERED_SHARE = 0.5
# Sentences quoted at most: the best, one neighbour and the runner-up.
QUOTE_SENTENCES = 3
# The runner-up (the second-best sentence, when it is not the neighbour) is quoted too when it
# scores within this much of the best: a rule's exception is often a paragraph away from it.
# Chosen on the e-manual training questions (quotes alone, ROUGE-L against the reference: 0.448
# without, 0.451 at 0.12–0.18, falling beyond); carried over to the sample company's QA, the
# key facts quoted alone rose from 61 to 65 of 88, for 4 more words on average.
RUNNER_UP_MARGIN = 0.15
# Weights of a sentence's score (see the module's docstring).
TITLED_WEIGHT = 0.5
RARE_WORDS_WEIGHT = 0.4
RANK_PENALTY = 0.04
TITLED_FRONT = 4  # sentences whose "title › heading: sentence" is embedded too
HEADING_WEIGHT = 0.3  # the cosine of the sentence's section heading (else its chunk's title)
# A list whose item (or introduction) is the best sentence is quoted whole up to this many
# lines: "At least 10 characters." says nothing without the other password rules. On the
# sample QA set, quotes alone hold as many key facts with 4 as with 6 or 8, in fewer words (28
# on average; 32); the e-manual's chunks have no lists.
QUOTE_LIST = 4


@dataclass(frozen=True)
class Quote:
    chunk: int  # 0-based index of the retrieved chunk
    sentence: str
    similarity: float  # cosine to the question
    order: int = 0  # place in the retrieved text (chunk by chunk, sentence by sentence)
    score: float = 0.0  # ``Quoter.best``'s score
    listed: bool = False  # an item of a list quoted whole: shown on a line of its own

    def cited(self) -> str:
        """The sentence with its citation before the final stop."""
        body = self.sentence.rstrip()
        stop = body[-1] if body[-1:] in ".!?:" else "."
        return f"{body.rstrip('.!?:').rstrip()} [{self.chunk + 1}]{stop}"

    def covered_by(self, answer: str) -> bool:
        """Whether ``answer`` already says this sentence: most of its words and every fact
        it states (an answer that rewords "Downgrades take effect at the end of the period"
        as "Upgrades take effect immediately" does not say it)."""
        words = content_words(self.sentence)
        return (len(words & content_words(answer)) >= COVERED_SHARE * len(words)
                and not missing(facts(self.sentence), Evidence.of(answer)))


class Quoter:
    """Finds the retrieved passage that best answers a question (``best``)."""

    def __init__(self, embed_model: Any, cache_size: int = 4096) -> None:
        self.embed_model, self.cache_size = embed_model, cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def best(self, query_embedding: Sequence[float], question: str,
             chunks: Sequence[tuple[str, str]], limit: int = QUOTE_SENTENCES) -> list[Quote]:
        """Up to ``limit`` sentences of ``chunks`` (``(title, text)`` pairs): the best first,
        then the line of the list case the question names (``_named_item``), the better of
        its neighbours in the same chunk, and the runner-up if it scores within
        ``RUNNER_UP_MARGIN`` of the best. Lines of cases the question does not name are no
        candidates (``asked_case``). When the best is an item of a list, or the
        line introducing one, the whole list is quoted instead (its introduction and items)
        if it has at most ``QUOTE_LIST`` lines."""
        candidates = [(k, title, s) for k, (title, text) in enumerate(chunks)
                      for s in source_structure(asked_case(text, question))
                      if not ABOUT_ITSELF.match(s.text)]
        if not candidates or limit < 1:
            return []
        query = np.asarray(query_embedding, dtype=np.float32)
        score, cosine = self._scores(query, question, candidates)
        ranked = [int(i) for i in np.argsort(-score, kind="stable")]
        named = self._named_item(query, question, candidates, score, cosine)
        chosen = [ranked[0]] + [i for i in _list_lines(candidates, ranked[0], score, named)
                                if i != ranked[0]]
        whole = len(chosen) > 1  # the best sentence's list, quoted whole or excerpted
        if not whole:
            if named is not None and named != ranked[0] and not _repeats(
                    candidates[named][2].text, candidates[ranked[0]][2].text):
                chosen.append(named)
            # the line of the case asked needs no neighbour: the next line is another case
            alone = _asked_line(question, candidates[ranked[0]][2])
            near = [j for j in (ranked[0] - 1, ranked[0] + 1) if not alone
                    and 0 <= j < len(candidates) and _beside(candidates[ranked[0]], candidates[j])]
            if near:
                chosen.append(max(near, key=lambda j: float(score[j])))
            said = " ".join(candidates[i][2].text for i in chosen)
            runner_up = ranked[1:2]  # unless it repeats them ("valid for 60 minutes" twice)
            chosen += [i for i in runner_up if i not in chosen and not candidates[i][2].intro
                       and score[i] >= score[ranked[0]] - RUNNER_UP_MARGIN
                       and not _repeats(candidates[i][2].text, said)]
            chosen = chosen[:limit]
        return [Quote(candidates[i][0], candidates[i][2].text, float(cosine[i]), i,
                      float(score[i]), listed=whole and bool(candidates[i][2].item))
                for i in chosen]

    def _scores(self, query: np.ndarray, question: str,
                candidates: list[tuple[int, str, SourceSentence]]) -> tuple[np.ndarray, np.ndarray]:
        """Each candidate's score (see the module's docstring) and its cosine to the question."""
        texts = [s.text for *_, s in candidates]
        cosine = self._cosine(query, texts)
        rank = np.array([k for k, _, _ in candidates], dtype=np.float32)
        headings = [s.heading or title for _, title, s in candidates]
        distinct = sorted(set(headings) - {""})
        named = dict(zip(distinct, self._cosine(query, distinct), strict=True)) if distinct else {}
        score = (cosine + RARE_WORDS_WEIGHT * rare_word_share(question, texts)
                 - RANK_PENALTY * rank
                 + HEADING_WEIGHT * np.array([named.get(h, 0.0) for h in headings],
                                             dtype=np.float32))
        # "title › heading: sentence" is embedded for the front-runners only (a sentence's own
        # cosine stands in for the rest): a third of the embedding time, the same quotes on
        # both corpora's questions
        front = [int(i) for i in np.argsort(-score, kind="stable")[:TITLED_FRONT]]
        titled = cosine.copy()
        titled[front] = self._cosine(query, [_titled(*candidates[i][1:]) for i in front])
        return score + TITLED_WEIGHT * titled, cosine

    def _named_item(self, query: np.ndarray, question: str,
                    candidates: list[tuple[int, str, SourceSentence]], score: np.ndarray,
                    cosine: np.ndarray) -> int | None:
        """The best-scoring list item whose label the question names ("Business: 10,000 runs"
        for "How many runs on Business?"), if its list is about what the question asks: the
        item reads closer to the question under its title and heading than alone ("Team: $8
        per member" under "Prices" is no answer to "Can I set billable rates on Team?");
        ``None`` when there is no such item."""
        named = [i for i, (_, _, s) in enumerate(candidates) if _asked_line(question, s)]
        if not named:
            return None
        top = max(named, key=lambda i: float(score[i]))
        titled = self._cosine(query, [_titled(*candidates[top][1:])])[0]
        return top if titled >= cosine[top] else None

    def similarities(self, query_embedding: Sequence[float], texts: list[str]) -> np.ndarray:
        """The cosine of each of ``texts`` to the question (embeddings cached)."""
        return self._cosine(np.asarray(query_embedding, dtype=np.float32), texts)

    def clear(self) -> None:
        """Forget the cached embeddings (benchmarks compare paths from the same cold start)."""
        with self._lock:
            self._cache.clear()

    def _cosine(self, query: np.ndarray, texts: list[str]) -> np.ndarray:
        return cosines(self._vectors(texts), query)

    def _vectors(self, sentences: list[str]) -> np.ndarray:
        with self._lock:
            known = {s: self._cache[s] for s in sentences if s in self._cache}
            for sentence in known:
                self._cache.move_to_end(sentence)
        new = [s for s in dict.fromkeys(sentences) if s not in known]
        if new:
            embedded = self.embed_model.get_text_embedding_batch(new)
            known.update((s, np.asarray(v, dtype=np.float32))
                         for s, v in zip(new, embedded, strict=True))
            with self._lock:
                for sentence in new:
                    self._cache[sentence] = known[sentence]
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return np.stack([known[s] for s in sentences])


def _repeats(sentence: str, said: str) -> bool:
    """Whether ``said`` already holds every word and fact of ``sentence``."""
    return ({stem(w) for w in content_words(sentence)} <= {stem(w) for w in content_words(said)}
            and not missing(facts(sentence), Evidence.of(said)))


def _asked_line(question: str, sentence: SourceSentence) -> bool:
    """Whether ``sentence`` is a list's line for a case the question names."""
    return bool(sentence.item) and names_label(question, item_label(sentence.text))


def _beside(best: tuple[int, str, SourceSentence],
            other: tuple[int, str, SourceSentence]) -> bool:
    """Whether ``other``, next to ``best``, may be quoted with it: in the same chunk, in the
    same list if ``best`` is an item (the line after the only "Business:" item left is about
    something else), and no introduction ("Monthly runs per workspace:" says nothing without
    its list)."""
    return (other[0] == best[0] and not other[2].intro
            and (not best[2].item or other[2].item == best[2].item))


def _titled(title: str, sentence: SourceSentence) -> str:
    """What the front-runners are embedded as: "title › heading: sentence"."""
    head = " › ".join(part for part in (title, sentence.heading) if part)
    return f"{head}: {sentence.text}" if head else sentence.text


def _list_lines(candidates: Sequence[tuple[int, str, SourceSentence]], best: int,
                score: np.ndarray, named: int | None = None) -> list[int]:
    """The list ``best`` belongs to or introduces, introduction first: all of it when it has
    at most ``QUOTE_LIST`` lines, else its introduction and its best item ("Monthly runs per
    workspace:" and "Business: 10,000", not the introduction alone); ``[best]`` when ``best``
    is in no list."""
    chunk, _, sentence = candidates[best]
    group = sentence.item or sentence.intro
    lines = [i for i, (k, _, s) in enumerate(candidates)
             if group and k == chunk and group in (s.item, s.intro)]
    if 2 < len(lines) <= QUOTE_LIST:
        return lines
    intro = [i for i in lines if candidates[i][2].intro]
    items = [i for i in lines if candidates[i][2].item]
    if len(lines) <= QUOTE_LIST or not intro or not items:
        return [best]
    top = (named if named in items else best if best in items
           else max(items, key=lambda i: float(score[i])))
    return [intro[0], top]


def cosines(vectors: np.ndarray, query: Sequence[float] | np.ndarray) -> np.ndarray:
    """The cosine of each row of ``vectors`` to ``query`` (quotes and verified answers)."""
    query = np.asarray(query, dtype=np.float32)
    return np.asarray(vectors @ query / (np.linalg.norm(vectors, axis=1)
                                         * np.linalg.norm(query) + 1e-9))


def rare_word_share(question: str, sentences: Sequence[str]) -> np.ndarray:
    """For each sentence, the share of the question's words it holds, each word weighted by
    how few of ``sentences`` hold it (IDF over the retrieved sentences; stemmed).

    Hand-written: scikit-learn's TfidfVectorizer would need a fitted vocabulary per question
    for what is five lines here."""
    asked = {stem(w) for w in content_words(question)}
    held = [{stem(w) for w in content_words(s)} for s in sentences]
    weight = {w: math.log(1 + len(held) / max(1, sum(w in h for h in held))) for w in asked}
    total = sum(weight.values()) or 1.0
    return np.array([sum(weight[w] for w in asked & h) / total for h in held],
                    dtype=np.float32)
