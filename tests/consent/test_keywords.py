"""Consent keywords: normalisation, classification, the stop-wish detector, admin keyword input."""

from __future__ import annotations

import pytest

from app.consent.keywords import (
    DEFAULT_SET,
    KeywordSet,
    classify,
    first_word,
    normalize,
    reads_like_stop_wish,
    validate_keyword,
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("STOP", "stop"),
        ("stop", "stop"),
        ("Stop", "stop"),
        ("  Stop!! ", "stop"),
        ("stop.", "stop"),
        ("...stop...", "stop"),
        ("¡STOP!", "stop"),
        ('"stop"', "stop"),
        ("(stop)", "stop"),
        ("\tstop\n", "stop"),
        ("\u00a0stop\u3000", "stop"),  # no-break space, ideographic space
        ("\u200bstop\ufeff", "stop"),  # zero-width space, BOM (invisible, format characters)
        ("ＳＴＯＰ", "stop"),  # full-width letters
        ("ｓｔｏｐ！", "stop"),  # full-width letters and full-width exclamation mark
        ("ﬆop", "stop"),  # NFKC: the "st" ligature
        ("ﬁnish", "finish"),  # NFKC: the "fi" ligature
        ("STRAẞE", "strasse"),  # case folding, not just lower()
        ("opt out", "opt out"),
        ("OPT   OUT", "opt out"),
        ("opt\t\nout", "opt out"),
        ("OPT-OUT", "opt-out"),
        ("opt-out!", "opt-out"),
        ("stop please", "stop please"),
        ("STOP 👍", "stop 👍"),  # a symbol is not trimmed
        ("👍", "👍"),
        ("", ""),
        ("   ", ""),
        ("?!", ""),
        ("hours?", "hours"),
        ("Hours, please", "hours, please"),
    ],
)
def test_normalize(body: str, expected: str) -> None:
    assert normalize(body) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("hours, please", "hours"), ("hours", "hours"), ("¿horas? sí", "horas"), ("", "")],
)
def test_first_word(text: str, expected: str) -> None:
    assert first_word(normalize(text)) == expected


@pytest.mark.parametrize(
    "body",
    [
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
        "stop.",
        "  Stop!! ",
        "ＳＴＯＰ",
        "ﬆop",
        "opt out",
        "Opt-Out",
        "Unsubscribe.",
    ],
)
@pytest.mark.parametrize("opted_out", [False, True])
def test_opt_out_keywords_in_both_states(body: str, opted_out: bool) -> None:
    assert classify(body, DEFAULT_SET, opted_out) == "opt_out"


@pytest.mark.parametrize(
    ("body", "opted_out", "expected"),
    [
        ("START", True, "opt_in"),
        ("START", False, None),
        ("start!", True, "opt_in"),
        ("YES", True, "opt_in"),
        ("YES", False, None),
        ("yes.", False, None),
        ("UNSTOP", True, "opt_in"),
        ("UNSTOP", False, None),
        ("HELP", False, "help"),
        ("HELP", True, "help"),
        ("help?", False, "help"),
        ("INFO", False, "help"),
        ("INFO", True, "help"),
    ],
)
def test_opt_in_and_help(body: str, opted_out: bool, expected: str | None) -> None:
    assert classify(body, DEFAULT_SET, opted_out) == expected


@pytest.mark.parametrize(
    "body",
    ["stop please", "STOP 👍", "🛑", "stop it", "OPT_OUT", "opt  out now", "STOPP", "S T O P", "", "hello"],
)
def test_not_keywords(body: str) -> None:
    assert classify(body, DEFAULT_SET, False) is None
    assert classify(body, DEFAULT_SET, True) is None


def test_default_keywords_are_exactly_the_contract() -> None:
    assert DEFAULT_SET.words("opt_out") == {
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "revoke",
        "optout",
        "opt out",
        "opt-out",
    }
    assert DEFAULT_SET.words("opt_in") == {"start", "unstop", "yes"}
    assert DEFAULT_SET.words("help") == {"help", "info"}


def test_extra_keywords_add_but_never_remove_or_rekind_defaults() -> None:
    keywords = KeywordSet.build(
        [
            ("PARAR", "opt_out"),
            ("Ayuda", "help"),
            ("comenzar", "opt_in"),
            ("STOP", "opt_in"),  # collides with a default of another kind: ignored
            ("help", "opt_out"),  # likewise
            ("yes", "opt_in"),  # same kind as the default: harmless
            ("parar", "help"),  # collides with an earlier extra: the first wins
        ]
    )
    assert classify("parar", keywords, False) == "opt_out"
    assert classify("¡AYUDA!", keywords, False) == "help"
    assert classify("Comenzar", keywords, True) == "opt_in"
    assert classify("Comenzar", keywords, False) is None
    assert classify("STOP", keywords, True) == "opt_out"
    assert classify("HELP", keywords, False) == "help"
    assert classify("YES", keywords, True) == "opt_in"
    assert classify("parar", DEFAULT_SET, False) is None  # the default set is unchanged
    assert keywords.words("opt_out") >= DEFAULT_SET.words("opt_out")


def test_keyword_lookup_is_a_dictionary() -> None:
    assert dict(DEFAULT_SET.lookup)["opt out"] == "opt_out"
    assert KeywordSet.build() == DEFAULT_SET


@pytest.mark.parametrize(
    ("extra", "message"), [([("PARAR", "pause")], "kind"), ([("!!", "opt_out")], "letter")]
)
def test_bad_extras_are_refused(extra: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KeywordSet.build(extra)


STOP_WISHES = [
    "please stop texting me",
    "remove me from this list",
    "unsubscribe me",
    "stop messaging me",
    "don't text me anymore",
    "Don’t text me anymore!",
    "take me off your list",
    "no more texts",
    "stop please",
    "Please stop.",
    "STOP STOP STOP",
    "stop sending me messages",
    "do not contact me again",
    "never text me again",
    "leave me alone",
    "I want to opt out",
    "how do I unsubscribe?",
    "please remove my number from your list",
    "get me off this list",
    "opt me out",
    "stop these messages",
    "no more messages please",
    "I don't want these texts",
    "I no longer want your messages",
    "pls stop",
    "ＳＴＯＰ texting me",
    "cancel please",
    "quit spamming me",
]

NOT_STOP_WISHES = [
    "stop by at 5",
    "can't stop laughing",
    "where do I stop the car",
    "is the store open",
    "I want to cancel my order",  # cancelling an order is not a wish to stop messages
    "cancel my appointment please",
    "don't stop",
    "the end",
    "stop sign at the corner",
    "can you stop by tomorrow?",
    "text me when it's ready",
    "please send me more texts",
    "remove the item from my cart",
    "take me home",
    "no more questions, thanks",
    "I need help",
    "I quit my job",
    "do not disturb was on",
    "don't text while driving",
    "what are your hours",
    "yes",
    "START",
    "",
    "👍",
]


@pytest.mark.parametrize("body", STOP_WISHES)
def test_reads_like_stop_wish(body: str) -> None:
    assert reads_like_stop_wish(body) is True


@pytest.mark.parametrize("body", NOT_STOP_WISHES)
def test_does_not_read_like_stop_wish(body: str) -> None:
    assert reads_like_stop_wish(body) is False


def test_detector_tables_are_large_enough() -> None:
    assert len(STOP_WISHES) >= 15
    assert len(NOT_STOP_WISHES) >= 15


def outcome(body: str, opted_out: bool, keywords: KeywordSet = DEFAULT_SET) -> str | None:
    """What the webhook does: a keyword's kind, else `flagged` when it reads like a wish to stop."""
    kind = classify(body, keywords, opted_out)
    if kind is None and keywords.kind_of(body) is None and reads_like_stop_wish(body):
        return "flagged"
    return kind


COMBINED = [
    ("STOP", False, "opt_out"),
    ("STOP", True, "opt_out"),
    ("stop.", False, "opt_out"),
    ("  Stop!! ", False, "opt_out"),
    ("ＳＴＯＰ", False, "opt_out"),
    ("StopAll", False, "opt_out"),
    ("unsubscribe", True, "opt_out"),
    ("Cancel", False, "opt_out"),
    ("end", False, "opt_out"),
    ("QUIT!", False, "opt_out"),
    ("revoke", False, "opt_out"),
    ("optout", False, "opt_out"),
    ("opt out", False, "opt_out"),
    ("OPT-OUT", False, "opt_out"),
    ("START", True, "opt_in"),
    ("START", False, None),
    ("yes", True, "opt_in"),
    ("Yes!", False, None),
    ("unstop", True, "opt_in"),
    ("unstop", False, None),
    ("HELP", False, "help"),
    ("HELP", True, "help"),
    ("info", False, "help"),
    ("Info?", True, "help"),
    ("stop please", False, "flagged"),
    ("stop please", True, "flagged"),
    ("please stop texting me", False, "flagged"),
    ("remove me from this list", False, "flagged"),
    ("unsubscribe me", False, "flagged"),
    ("don't text me anymore", True, "flagged"),
    ("take me off your list", False, "flagged"),
    ("no more texts", False, "flagged"),
    ("STOP 👍", False, "flagged"),
    ("stop by at 5", False, None),
    ("can't stop laughing", False, None),
    ("where do I stop the car", False, None),
    ("is the store open", False, None),
    ("I want to cancel my order", False, None),
    ("hours?", False, None),
    ("", False, None),
    ("👍", True, None),
    ("help me with my order", False, None),
    ("yes please", True, None),
    ("starting tomorrow", True, None),
]


@pytest.mark.parametrize(("body", "opted_out", "expected"), COMBINED)
def test_combined_outcome(body: str, opted_out: bool, expected: str | None) -> None:
    assert outcome(body, opted_out) == expected


def test_combined_table_is_large_enough() -> None:
    assert len(COMBINED) >= 40


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PARAR", "parar"),
        ("  ¡Ayuda! ", "ayuda"),
        ("ＡＲＲＥＴ", "arret"),
        ("no mas", "no mas"),
        ("no  más  mensajes", "no más mensajes"),
        ("x" * 40, "x" * 40),
    ],
)
def test_validate_keyword_accepts(text: str, expected: str) -> None:
    assert validate_keyword(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one"),
        ("   ", "at least one"),
        ("!!!", "at least one"),
        ("x" * 41, "at most 40 characters"),
        ("one two three four", "at most 3 words"),
        ("st\x00op", "control"),
        ("st\x07op", "control"),
        (None, "text"),
        (12, "text"),
    ],
)
def test_validate_keyword_refuses(text: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_keyword(text)  # type: ignore[arg-type]
