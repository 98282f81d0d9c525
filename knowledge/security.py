"""What must never reach a customer: an answer that asks for a secret, or names a contact
point (e-mail address, URL, phone number) that no trusted document holds.

``security_check`` runs on the model's reply and on the whole answer with its quotes; a blocked
answer is replaced by a safe reply with the hand-off and recorded as a security event.
Hand-written: the requests are phrased too loosely for a library's PII or secret detectors,
which find secrets that are present, not requests to send them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from knowledge.facts import MARKERS, contacts, content_words, source_sentences, split_sentences

_SECRET = re.compile(
    r"\b(passwords?|passcodes?|passphrases?|api (keys?|tokens?)|access tokens?|tokens?|"
    r"secret keys?|secrets|card (numbers?|details)|credit cards?|debit cards?|cvv|cvc|"
    r"security codes?|one-time (codes?|passwords?)|2fa codes?|verification codes?|"
    r"recovery codes?|backup codes?|social security numbers?|ssn|login details|credentials|"
    r"bank (details|login))\b|\bPINs?\b", re.IGNORECASE)
_PIN = re.compile(r"\bpins?\b")  # lowercase "pin" is pinning a task, not a secret
# Handing a secret over: to someone ("send", "share", "tell us") or into a message ("paste it
# in the chat"). Typing a new password into the product's own form is no request.
_ASK = re.compile(
    r"\b(send|share|give|tell|reply|respond|provide|forward|disclose|read out|upload|attach)\b"
    r"|(?<!the )(?<!an )(?<!a )(?<!your )(?<!our )(?<!this )(?<!that )"
    r"\b(e-?mail|mail|text|message|dm)\b(?!\s+address)"
    r"|\b(paste|enter|type|include|write|post|put)\b[^.!?]{0,40}\b(in|into|to|with)\s+"
    r"(an?\s+|the\s+|this\s+|your\s+|our\s+)?(e-?mail|message|chat|reply|ticket|form at|"
    r"comment|thread|us|support|agent|team)\b", re.IGNORECASE)
_NEGATED = re.compile(r"\b(never|not|no one|nobody|avoid|without|won't|don't|doesn't)\b|n't\b",
                      re.IGNORECASE)
SECRET_REASON = "asks the user to send a secret"
CONTACT_REASON = "names a contact point no trusted document holds"


def asks_for_secret(text: str) -> bool:
    """Whether a sentence of ``text`` asks the reader to send, share or paste a secret."""
    return any(_asks(MARKERS.sub("", s)) for s, _ in split_sentences(text))


def _asks(sentence: str) -> bool:
    sentence = contacts(sentence)[1]  # "no-reply@…" asks nothing
    secret = [m for m in _SECRET.finditer(sentence) if not _PIN.fullmatch(m.group(0))]
    return bool(secret) and bool(_ASK.search(sentence)) and not _NEGATED.search(sentence)


def trusted_contacts(texts: Iterable[str]) -> frozenset[str]:
    """Every contact point the trusted (indexed, not quarantined) documents name."""
    found: set[str] = set()
    for text in texts:
        found |= contacts(text)[0]
    return frozenset(found)


def security_check(answer: str, chunks: Sequence[str], trusted: frozenset[str],
                   question: str = "") -> str | None:
    """Why ``answer`` must not reach a customer, or ``None``.

    It must not name an e-mail address, URL or phone number that no trusted document holds
    (nor the customer's question; a trusted address with its dots dropped is a typo ``ground``
    replaces),
    nor ask for a secret — unless it repeats a retrieved document's own instruction that
    names no contact point ("provide the PIN to the agent" in a remote-support manual).
    """
    found = contacts(MARKERS.sub("", answer))[0] - contacts(question)[0]
    unknown = sorted(c for c in found if not any(c == t or c in t or _garbled(c, t)
                                                 for t in trusted))
    if unknown:
        return f"{CONTACT_REASON}: {', '.join(unknown)}"
    for sentence, _ in split_sentences(answer):
        body = MARKERS.sub("", sentence)
        if _asks(body) and (contacts(body)[0] or not _documented(body, chunks)):
            return SECRET_REASON
    return None


def _garbled(contact: str, trusted: str) -> bool:
    """``contact`` is ``trusted`` with the dots of its domain dropped ("support@orbitaskexample"
    for "support@orbitask.example"): the model's typo, which the grounding guard replaces with
    the document's sentence, not a new contact point to block the answer for."""
    local, at, domain = trusted.partition("@")
    return bool(at) and "." in domain and contact == f"{local}@{domain.replace('.', '')}"


def _documented(sentence: str, chunks: Sequence[str]) -> bool:
    """Whether a retrieved chunk gives the same secret-handling instruction itself."""
    words = content_words(sentence)
    return any(_asks(s) and len(words & content_words(s)) >= 0.6 * len(words)
               for chunk in chunks for s in source_sentences(chunk))
