"""app.conversations.queries: keyset paging (with ties on last_message_at), search by message text,
name and phone, literal % _ and \\ in a term, and the short-term rule (names and phones only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.conversations.models import Contact, Conversation, Message
from app.conversations.queries import Cursor, inbox, next_cursor
from app.extensions import db
from tests.conftest import OUR

T0 = datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def make(app_ctx):
    counter = iter(range(1, 10_000))

    def make(*bodies: str, at: datetime = T0, name: str | None = None, phone: str | None = None, **fields):
        n = next(counter)
        opted_out = fields.pop("opted_out", False)
        contact = Contact(phone=phone or f"+1415555{n:04d}", name=name, opted_out=opted_out)
        db.session.add(contact)
        db.session.flush()
        conversation = Conversation(our_number=OUR, contact_id=contact.id, last_message_at=at, **fields)
        db.session.add(conversation)
        db.session.flush()
        for body in bodies:
            db.session.add(
                Message(
                    conversation_id=conversation.id,
                    direction="inbound",
                    status="received",
                    from_number=contact.phone,
                    to_number=OUR,
                    body=body,
                )
            )
        db.session.commit()
        return conversation.id

    return make


def ids(**kw) -> list[int]:
    return [c.id for c in db.session.scalars(inbox(**kw))]


def all_pages(limit: int, **kw) -> list[list[int]]:
    """Every page, following next_cursor through its encoded form as a client would."""
    pages, cursor = [], None
    while True:
        rows = list(db.session.scalars(inbox(cursor=cursor, limit=limit, **kw)))
        pages.append([c.id for c in rows])
        token = next_cursor(rows, limit)
        if token is None:
            return pages
        cursor = Cursor.decode(token)
        assert len(pages) < 100, "paging does not end"


def newest_first(conversation_ids) -> list[int]:
    rows = db.session.execute(
        select(Conversation.id, Conversation.last_message_at).where(Conversation.id.in_(conversation_ids))
    ).all()
    return [r.id for r in sorted(rows, key=lambda r: (r.last_message_at, r.id), reverse=True)]


def test_keyset_pages_hold_every_conversation_once_with_ties(make):
    # 3 threads at T0, 4 at T0 + 1 s (ties straddle page boundaries at limit 3), 5 at distinct times
    made = [make("hi", at=T0) for _ in range(3)]
    made += [make("hi", at=T0 + timedelta(seconds=1)) for _ in range(4)]
    made += [make("hi", at=T0 - timedelta(minutes=i + 1)) for i in range(5)]
    pages = all_pages(3)
    flat = [i for page in pages for i in page]
    assert sorted(flat) == sorted(made)  # every conversation, exactly once
    assert flat == newest_first(made)  # newest first, ties by id descending
    assert [len(p) for p in pages] == [3, 3, 3, 3, 0]


def test_keyset_paging_with_a_filter_and_a_limit_of_one(make):
    open_ones = [make("hi", at=T0) for _ in range(3)]
    make("hi", at=T0, status="closed")
    open_ones.append(make("hi", at=T0 - timedelta(seconds=1)))
    flat = [i for page in all_pages(1, filters=("open",)) for i in page]
    assert flat == newest_first(open_ones)


def test_cursor_in_the_middle_of_a_tie(make):
    tied = [make("hi", at=T0) for _ in range(4)]
    older = make("hi", at=T0 - timedelta(microseconds=1))
    after = sorted(tied)[2]
    assert ids(cursor=Cursor(T0, after)) == sorted(tied)[:2][::-1] + [older]


def test_search_by_message_text_name_and_phone(make):
    parcel = make("hello", "Where is my PARCEL?")
    lopez = make("hi", name="Ana Lopez")
    phone = make("hi", phone="+14155550999")
    make("nothing to see", name="Bob")
    assert ids(search="parcel") == [parcel]  # case-insensitive, any message of the thread
    assert ids(search="LOPEZ") == [lopez]
    assert ids(search="  lopez  ") == [lopez]  # trimmed
    assert ids(search="5550999") == [phone]
    assert ids(search="+1415555099") == [phone]
    assert ids(search="no such words") == []


def test_a_thread_matching_twice_is_listed_once(make):
    both = make("ask Lopez about it", "Lopez again", name="Ana Lopez")
    assert ids(search="lopez") == [both]


def test_search_pages_newest_first_across_text_and_contact_matches(make):
    by_text = [make("the word is quokka", at=T0 - timedelta(seconds=2 * i)) for i in range(4)]
    by_name = [make("hi", name=f"Quokka {i}", at=T0 - timedelta(seconds=2 * i + 1)) for i in range(4)]
    make("hi", name="Other")
    pages = all_pages(3, search="quokka")
    flat = [i for page in pages for i in page]
    assert flat == newest_first(by_text + by_name)
    assert [len(p) for p in pages] == [3, 3, 2]
    assert ids(search="quokka", limit=2) == newest_first(by_text + by_name)[:2]


def test_search_respects_filters(make):
    make("refund please")
    opted = make("refund please", opted_out=True)
    named = make("hi", name="Refund Team", opted_out=True)
    make("hi", name="Refund Desk")
    assert sorted(ids(search="refund", filters=("opted_out",))) == sorted([opted, named])


@pytest.mark.parametrize(
    ("term", "matches", "not_matching"),
    [
        ("100%", "price is 100% fair", "price is 1000 fair"),
        ("100%", "price is 100% fair", "price is 100 fair"),
        ("file_name", "see file_name.txt", "see fileXname.txt"),
        ("C:\\temp", "saved in C:\\temp today", "saved in C:temp today"),
        ("abc\\%", "an abc\\% thing", "an abc% thing"),
        ("abc\\", "an abc\\ thing", "an abc thing"),
        ("' OR 1=1 -- abc", "he wrote ' OR 1=1 -- abc here", "he wrote OR 1=1 abc here"),
    ],
)
def test_like_wildcards_in_a_term_match_literally(make, term, matches, not_matching):
    wanted = make(matches)
    make(not_matching)
    assert ids(search=term) == [wanted]


@pytest.mark.parametrize("term", ["%", "_", "\\", "%%", "' OR 1=1 --"])
def test_hostile_terms_match_nothing_when_nothing_contains_them(make, term):
    make("hello there", name="Ana Lopez")
    make("100 percent", name=None)
    assert ids(search=term) == []


def test_short_terms_search_names_and_phones_but_not_message_text(make):
    okafor = make("hi", name="Chloe Okafor")
    make("Ok great")  # 'ok' in a message: not found by a 2-character term
    percent = make("hi", name="100% Juice Ltd")
    done = make("it is 100% done")
    underscore = make("hi", name="ana_lopez")
    make("hi", name="ana lopez")
    by_phone = make("hi", phone="+14155559876")
    assert ids(search="ok") == [okafor]
    assert ids(search="OK") == [okafor]
    assert ids(search="%") == [percent]
    assert ids(search="_") == [underscore]
    assert ids(search="76") == [by_phone]
    assert ids(search="???") == []
    # three letters or digits in a row: message text is searched as well
    assert sorted(ids(search="100%")) == sorted([percent, done])
