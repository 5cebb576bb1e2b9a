"""The numbers behind /admin/reports, computed from thread events and messages.

Definitions (also in the README):
- opened: conversations created that day (UTC);
- closed: `closed` events that day;
- first-response time: from a thread's first inbound message to the first agent reply
  (`replied` event) after it, counted on the day of that reply and for the agent who sent it;
  threads the desk started itself are left out;
- resolution time: from the thread's start (or its latest reopening) to a `closed` event,
  counted on the day of the close and for the agent who closed it.
Median and p90 use the nearest-rank method over the durations in seconds.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, literal_column, select

from app.accounts.models import User
from app.admin.models import ThreadEvent
from app.conversations.models import Conversation, Message
from app.extensions import db
from app.types import utcnow

MAX_DAYS = 90


def p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass
class Bucket:
    opened: int = 0
    closed: int = 0
    first_response: list[float] = field(default_factory=list)
    resolution: list[float] = field(default_factory=list)

    def row(self) -> dict:
        return {
            "opened": self.opened,
            "closed": self.closed,
            "responses": len(self.first_response),
            "frt_median": median(self.first_response),
            "frt_p90": p90(self.first_response),
            "resolution_median": median(self.resolution),
            "resolution_p90": p90(self.resolution),
        }


def day_expr(column):
    if db.engine.dialect.name == "postgresql":
        return func.date(func.timezone(literal_column("'UTC'"), column))
    return func.date(column)


def as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def compute(days: int) -> dict:
    days = max(1, min(MAX_DAYS, days))
    today = utcnow().date()
    first_day = today - timedelta(days=days - 1)
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=utcnow().tzinfo)
    by_day = {first_day + timedelta(days=i): Bucket() for i in range(days)}
    by_agent: dict[str, Bucket] = defaultdict(Bucket)
    emails = dict(db.session.execute(select(User.id, User.email)).all())

    opened = db.session.execute(
        select(day_expr(Conversation.created_at), func.count())
        .where(Conversation.created_at >= start)
        .group_by(day_expr(Conversation.created_at))
    )
    for day, count in opened:
        if as_date(day) in by_day:
            by_day[as_date(day)].opened += count

    _first_responses(start, by_day, by_agent, emails)
    _resolutions(start, by_day, by_agent, emails)
    days_rows = [{"day": d.isoformat(), **b.row()} for d, b in by_day.items()]
    agent_rows = [{"agent": a, **b.row()} for a, b in sorted(by_agent.items())]
    return {"days": days_rows, "agents": agent_rows, "first_day": first_day, "last_day": today, "span": days}


def _agent(emails: dict[int, str], actor_id: int | None) -> str:
    return emails.get(actor_id, "(removed user)") if actor_id else "(no agent)"


def _first_responses(start, by_day, by_agent, emails) -> None:
    replies = db.session.execute(
        select(ThreadEvent.conversation_id, ThreadEvent.actor_id, ThreadEvent.created_at)
        .where(ThreadEvent.kind == "replied", ThreadEvent.created_at >= start)
        .order_by(ThreadEvent.conversation_id, ThreadEvent.created_at, ThreadEvent.id)
    ).all()
    first: dict[int, tuple[int | None, datetime]] = {}
    for cid, actor, at in replies:
        first.setdefault(cid, (actor, at))
    if not first:
        return
    ids = list(first)
    earlier = set(
        db.session.scalars(
            select(ThreadEvent.conversation_id)
            .where(ThreadEvent.kind == "replied", ThreadEvent.created_at < start)
            .where(ThreadEvent.conversation_id.in_(ids))
        )
    )
    inbound = dict(
        db.session.execute(
            select(Message.conversation_id, func.min(Message.date_created))
            .where(Message.direction == "inbound", Message.conversation_id.in_(ids))
            .group_by(Message.conversation_id)
        ).all()
    )
    for cid, (actor, at) in first.items():
        began = inbound.get(cid)
        if cid in earlier or began is None:
            continue
        began = _aware(began)
        if began > at:
            continue
        seconds = (at - began).total_seconds()
        by_day[at.date()].first_response.append(seconds)
        by_agent[_agent(emails, actor)].first_response.append(seconds)


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _resolutions(start, by_day, by_agent, emails) -> None:
    closes = db.session.execute(
        select(ThreadEvent.conversation_id, ThreadEvent.actor_id, ThreadEvent.created_at)
        .where(ThreadEvent.kind == "closed", ThreadEvent.created_at >= start)
        .order_by(ThreadEvent.created_at)
    ).all()
    if not closes:
        return
    ids = list({c[0] for c in closes})
    created = dict(
        db.session.execute(
            select(Conversation.id, Conversation.created_at).where(Conversation.id.in_(ids))
        ).all()
    )
    reopens: dict[int, list[datetime]] = defaultdict(list)
    for cid, at in db.session.execute(
        select(ThreadEvent.conversation_id, ThreadEvent.created_at)
        .where(ThreadEvent.kind == "reopened", ThreadEvent.conversation_id.in_(ids))
        .order_by(ThreadEvent.created_at)
    ):
        reopens[cid].append(at)
    for cid, actor, at in closes:
        day = at.date()
        if day not in by_day:
            continue
        by_day[day].closed += 1
        by_agent[_agent(emails, actor)].closed += 1
        began = max([created.get(cid) or at] + [r for r in reopens[cid] if r < at])
        seconds = max(0.0, (at - began).total_seconds())
        by_day[day].resolution.append(seconds)
        by_agent[_agent(emails, actor)].resolution.append(seconds)
