"""Consent keywords (STOP / START / HELP): pure text rules, no database.

Canonical form: every keyword and every message is compared in its *normalised* form, which is
NFKC, then ``str.casefold`` (so the canonical keywords are lower case: ``"stop"``, ``"opt out"``),
then trimmed and with internal whitespace collapsed. The rules engine uses the same ``normalize``
for its exact and first-word patterns, so "hours?" and "HOURS" are the same word everywhere.

Trimming removes, at both ends only, whitespace, punctuation (Unicode P*), separators (Z*) and
invisible format characters (Cf: zero-width spaces, BOM, joiners), which phones and copy-paste add
without the sender seeing them. Symbols are kept: "STOP 👍" is not a keyword.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

OPT_OUT = "opt_out"
OPT_IN = "opt_in"
HELP = "help"
KINDS = (OPT_OUT, OPT_IN, HELP)

DEFAULT_KEYWORDS: dict[str, tuple[str, ...]] = {
    OPT_OUT: (
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "OPT OUT",
        "OPT-OUT",
    ),
    OPT_IN: ("START", "UNSTOP", "YES"),
    HELP: ("HELP", "INFO"),
}

MAX_KEYWORD_LENGTH = 40
MAX_KEYWORD_WORDS = 3


def _is_trimmable(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] in "PZ" or unicodedata.category(char) == "Cf"


def fold(text: str) -> str:
    """NFKC + case folding + whitespace collapsed and stripped; punctuation kept (used for `contains`)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


def trim(text: str) -> str:
    """Drop whitespace, punctuation and invisible characters at both ends."""
    start, end = 0, len(text)
    while start < end and _is_trimmable(text[start]):
        start += 1
    while end > start and _is_trimmable(text[end - 1]):
        end -= 1
    return text[start:end]


def normalize(body: str) -> str:
    """The canonical (casefolded) form a message is compared in; see the module docstring."""
    return trim(fold(body))


def first_word(normalized: str) -> str:
    """The first word of an already normalised text, itself trimmed ("hours, please" -> "hours")."""
    return trim(normalized.split(" ", 1)[0])


@dataclass(frozen=True)
class KeywordSet:
    """Normalised keyword -> kind. The defaults are always present and keep their kind."""

    entries: tuple[tuple[str, str], ...]
    lookup: Mapping[str, str] = field(repr=False, compare=False, hash=False)

    @classmethod
    def build(cls, extra: Iterable[tuple[str, str]] = ()) -> KeywordSet:
        """Defaults plus `extra` (keyword, kind) pairs.

        An extra that collides with a keyword already present (a default, or an earlier extra) is
        ignored, so the defaults can be neither removed nor re-kinded. An unknown kind or an invalid
        keyword raises ValueError: stored extras are expected to have passed `validate_keyword`.
        """
        table: dict[str, str] = {}
        for kind, words in DEFAULT_KEYWORDS.items():
            for word in words:
                table[normalize(word)] = kind
        for keyword, kind in extra:
            if kind not in KINDS:
                raise ValueError(f"keyword kind must be one of {', '.join(KINDS)}, not {kind!r}")
            table.setdefault(validate_keyword(keyword), kind)
        return cls(entries=tuple(sorted(table.items())), lookup=MappingProxyType(table))

    def kind_of(self, body: str) -> str | None:
        """The kind of keyword the whole message is, or None (a dictionary lookup)."""
        return self.lookup.get(normalize(body))

    def words(self, kind: str) -> frozenset[str]:
        return frozenset(word for word, k in self.entries if k == kind)


DEFAULT_SET = KeywordSet.build()


def classify(body: str, keywords: KeywordSet, opted_out: bool) -> str | None:
    """`opt_out` and `help` always; `opt_in` only while opted out (otherwise it is an ordinary message)."""
    kind = keywords.kind_of(body)
    if kind == OPT_IN and not opted_out:
        return None
    return kind


def validate_keyword(text: str) -> str:
    """An admin's new keyword in canonical form, or ValueError saying what is wrong with it."""
    if not isinstance(text, str):
        raise ValueError("keyword must be text")
    keyword = normalize(text)
    if not keyword:
        raise ValueError("keyword must contain at least one letter, digit or symbol")
    if any(unicodedata.category(char)[0] == "C" for char in keyword):
        raise ValueError("keyword must not contain control or invisible characters")
    if len(keyword) > MAX_KEYWORD_LENGTH:
        raise ValueError(f"keyword must be at most {MAX_KEYWORD_LENGTH} characters")
    if len(keyword.split(" ")) > MAX_KEYWORD_WORDS:
        raise ValueError(f"keyword must be at most {MAX_KEYWORD_WORDS} words")
    return keyword


# --- "reads like a wish to stop" -------------------------------------------------------------------
#
# A deliberately small detector: a handful of regexes over the normalised text with punctuation
# turned into spaces. It only flags the conversation for an agent (it never opts anyone out), so a
# false positive costs an agent a glance and a false negative is what we had without it. Wishes
# about other things ("I want to cancel my order", "stop by at 5") are not flagged.

_POLITE = r"(?:please|pls|plz|now|just|ok|okay|thanks|thank you|thx|already|asap|immediately|all|it)"
_STOP_WORD = r"(?:stop|stopall|unsubscribe|cancel|quit|end|opt out|optout|remove me)"
_MESSAGES = r"(?:texts?|txts?|messages?|msgs?|sms|spam)"
_CONTACTING = r"(?:texting|txting|messaging|msging|sending|contacting|spamming|bothering|calling)"

_STOP_WISHES = tuple(
    re.compile(pattern)
    for pattern in (
        # "stop please", "please stop", "STOP STOP STOP": a stop word with only politeness around it.
        rf"^(?:{_POLITE} )*{_STOP_WORD}(?: (?:{_POLITE}|{_STOP_WORD}))*$",
        # "stop texting me", "quit messaging us", "stop sending me messages"
        rf"\b(?:stop|quit|cease|end) {_CONTACTING}\b",
        # "stop these messages", "end all texts", "no more texts"
        rf"\b(?:stop|end|no more|cancel) (?:the |these |those |your |all |all the |any )?{_MESSAGES}\b",
        # "don't text me anymore", "do not contact me", "never message me again", "don't send me texts"
        rf"\b(?:don t|dont|do not|never|no longer) (?:text|txt|message|msg|sms|contact|send me)(?:ing)?"
        rf" (?:me|us|this number|my number|{_MESSAGES})\b",
        # "I don't want these texts", "I no longer want your messages"
        rf"\b(?:don t|dont|do not|no longer) (?:want|need) (?:the |these |those |your |any |any more |more )?"
        rf"{_MESSAGES}\b",
        # "remove me from this list", "delete my number", "take me off your list"
        r"\b(?:remove|delete|erase) (?:me|us|my (?:phone |cell )?number|this number)\b",
        r"\b(?:take|get|drop) (?:me|us|my (?:phone |cell )?number|this number) (?:off|out of)\b",
        r"\b(?:remove|delete|take) (?:off|from) (?:your|the|this|ur) (?:\w+ )?list\b",
        # "unsubscribe me", "how do I unsubscribe", "I want to opt out", "opt me out"
        r"\b(?:unsubscribe|opt out|optout|opt me out|sign me out)\b",
        r"\b(?:leave|let) me alone\b",
    )
)
_NON_WORD = re.compile(r"[\W_]+")


def reads_like_stop_wish(body: str) -> bool:
    """True when a message that is not a keyword still reads like "stop messaging me".

    Punctuation, apostrophes included, becomes a space first, so "don't" reads "don t".
    """
    text = " ".join(_NON_WORD.sub(" ", fold(body)).split())
    return any(pattern.search(text) for pattern in _STOP_WISHES)
