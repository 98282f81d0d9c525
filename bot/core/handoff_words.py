"""Does a message ask for a person? ("talk to a human", "real person please", just "agent")

A request for a person becomes a hand-off instead of a model answer, so this must not fire on
ordinary questions that merely contain such words ("how many persons can share a plan?",
"what is the agent setting?", "how do I chat with someone in my workspace?"). It fires on:

- a sentence that is only a person word, with greetings and politeness around it:
  "human", "Agent please!", "a real person", "hi, operator";
- asking to talk to one: "talk to a human", "connect me with support", "escalate to an
  operator"; with a word that often means something else in a question (person, agent,
  someone, staff) only when it is asked for ("can I speak to an agent", "I'd like to talk to a
  person about my bill") and nothing follows but politeness or what it is about;
- wanting one, the message ending there: "I want a human", "I need to reach a real person";
- a real or actual person (or human) anywhere: "real person please".
"""

from __future__ import annotations

import re

_HUMAN = r"human(?:\s+being)?s?(?!\s+resources?)"
_STRONG = (rf"(?:{_HUMAN}|operators?|representatives?|reps?|support(?:\s+(?:team|staff|agent"
           r"|person|people))?|customer\s+(?:service|support)|(?:member\s+of|someone\s+(?:from|at"
           r"|in|on))\s+(?:your|the)\s+(?:support\s+)?team|someone\s+(?:from|at|in)\s+support)")
_WEAK = r"(?:persons?|people|agents?|someone|somebody|anyone|anybody|staff)"
_ARTICLE = r"(?:(?:a|an|the|some|one|any|your)\s+)?"
_REAL = r"(?:(?:real|live|actual|proper)\s+)?"
_POLITE = r"(?:\s+(?:please|pls|plz|now|asap|thanks|thank\s+you|again|instead|here))*"
_GREETING = r"(?:(?:hi|hello|hey|ok|okay|um+|uh+|can\s+i\s+have|can\s+i\s+get)\s+)*"
_REACH = (r"(?:(?:talk|speak|chat)\s+(?:to|with)|(?:connect|transfer|pass|put)\s+me\s+"
          r"(?:through\s+|over\s+|on\s+)?(?:to|with)|hand\s+me\s+(?:over|off)\s+to"
          r"|escalate\s+(?:this\s+|it\s+|me\s+)?to|(?:reach|contact|get\s+hold\s+of))")
_ASKED = (r"(?:^|\b(?:can|could|may|might)\s+(?:i|we)\s+|\b(?:want|need|like|wanna|have|try"
          r"|trying|way)\s+to\s+|\blet\s+me\s+|\bplease\s+|\bpls\s+)")

_ONLY = re.compile(rf"^{_GREETING}(?:(?:please|pls)\s+)?{_ARTICLE}{_REAL}"
                   rf"(?:{_STRONG}|{_WEAK}){_POLITE}$")
_TALK_STRONG = re.compile(rf"\b{_REACH}\s+{_ARTICLE}{_REAL}{_STRONG}\b")
_TALK_WEAK = re.compile(rf"{_ASKED}{_REACH}\s+{_ARTICLE}{_REAL}{_WEAK}"
                        rf"(?:{_POLITE}$|\s+(?:about|regarding|re|on\s+the\s+phone)\b)")
_WANT = re.compile(rf"\b(?:want|need|like|get\s+me|give\s+me|request|prefer)\s+{_ARTICLE}"
                   rf"{_REAL}(?:{_STRONG}|{_WEAK}){_POLITE}$")
_REAL_ONE = re.compile(rf"\b(?:real|actual)\s+(?:{_HUMAN}|persons?|people)\b"
                       rf"|\blive\s+(?:{_HUMAN}|persons?)\b")


def normalise(text: str) -> str:
    """Lower case, apostrophes dropped, anything but letters and digits a single space."""
    text = text.lower().replace("'", "").replace("\u2019", "")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def asks_for_human(text: str) -> bool:
    """Whether ``text`` asks for a person rather than asking a question about the product."""
    if len(text) > 1000:
        return False  # a long message is a question (or a story), not a request for a person
    sentences = [normalise(s) for s in re.split(r"[.!?;\n]+", text)]
    whole = normalise(text)
    if any(_ONLY.search(s) for s in sentences if s):
        return True
    return any(p.search(s) for s in (*sentences, whole) if s
               for p in (_TALK_STRONG, _TALK_WEAK, _WANT, _REAL_ONE))
