"""Hard limits for one reply render, enforced from inside the sandbox's own hooks.

Checking example templates at save time cannot bound what a template does with other input
(`{% if message.body == 'boom' %}` hides any branch), so every render carries a `Budget`:

- a wall-clock deadline (`MAX_SECONDS`) checked at every call, attribute or item lookup, operator,
  filter, loop step, literal and printed value, not only in loops;
- a size limit for every value the template creates (`MAX_VALUE`, counted as the characters and
  items it would print, shared references counted each time they appear), checked before the
  growing builtins run (number arguments, repeat counts) and on every result;
- a total for all values created in one render (`MAX_TOTAL`), so a loop cannot allocate its way
  past the per-value limit;
- `MAX_ITERATIONS` loop steps in the whole render.

A value over a limit is never kept: the render stops with `ReplyLimitError`.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

from jinja2.exceptions import SecurityError

MAX_SECONDS = 0.05
BUSY_FACTOR = 10
MAX_VALUE = 10_000
MAX_TOTAL = 200_000
MAX_ITERATIONS = 10_000
MAX_INT_BITS = 4096
MAX_ARGUMENT = MAX_VALUE

_SCALARS = (float, complex, bool, type(None))


class ReplyLimitError(SecurityError):
    """The render hit a hard limit. `transient` is True when only the wall clock ran out while the
    thread itself used little CPU (a busy machine, not the template), so the rule is not blamed."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class Budget:
    """One render's allowance. The deadline is wall-clock; when it has passed but the thread has
    used under half of it in CPU (the machine is busy, the template is not slow), the render may
    go on up to `BUSY_FACTOR` times the deadline and then stops without blaming the template."""

    __slots__ = ("iterations", "created", "deadline", "cpu_started", "started")

    def __init__(self) -> None:
        self.iterations = 0
        self.created = 0
        self.started = time.monotonic()
        self.deadline = self.started + MAX_SECONDS
        self.cpu_started = time.thread_time()

    def tick(self) -> None:
        now = time.monotonic()
        if now <= self.deadline:
            return
        message = f"the reply took longer than {int(MAX_SECONDS * 1000)} ms to render"
        if time.thread_time() - self.cpu_started >= MAX_SECONDS / 2:
            raise ReplyLimitError(message)
        if now - self.started > MAX_SECONDS * BUSY_FACTOR:
            raise ReplyLimitError(message + " (the machine was busy)", transient=True)

    def spend(self, iterations: int) -> None:
        self.iterations += iterations
        if self.iterations > MAX_ITERATIONS:
            raise ReplyLimitError(f"loops may run at most {MAX_ITERATIONS} times in one reply")
        if not self.iterations & 15:
            self.tick()

    def charge(self, weight: int) -> None:
        self.created += weight
        if self.created > MAX_TOTAL:
            raise ReplyLimitError(
                f"the reply created more than {MAX_TOTAL} characters or items in all; keep it simple"
            )


_budget: ContextVar[Budget | None] = ContextVar("reply_template_budget", default=None)


def start() -> Any:
    """A fresh budget for one render; pass the token to `stop`."""
    return _budget.set(Budget())


def stop(token: Any) -> None:
    _budget.reset(token)


def tick() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.tick()


def current() -> Budget | None:
    return _budget.get()


def weight(value: Any, limit: int = MAX_VALUE) -> int:
    """What the value would print as, roughly: characters of text, one per item, plus its items,
    with shared references counted every time. Stops counting once past `limit`, so the check
    costs at most `limit` steps whatever the value."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes | bytearray):
            total += max(1, len(item))
        elif isinstance(item, int):
            total += 1 + item.bit_length() // 32
        elif isinstance(item, _SCALARS):
            total += 1
        elif isinstance(item, dict):
            total += 1
            if len(item) > limit:
                return total + len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 1
            if len(item) > limit:
                return total + len(item)
            stack.extend(item)
        else:
            total += 1
        if total > limit:
            return total
    return total


def check_length(length: int) -> None:
    """Before a growing operation runs: refuse a result that would be over the limit."""
    if length > MAX_VALUE:
        raise ReplyLimitError(f"values in a template are limited to {MAX_VALUE} characters or items")


def checked(value: Any) -> Any:
    """Every value the template creates passes here: size, then the render's running total."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise ReplyLimitError("number too large")
    size = weight(value)
    check_length(size)
    budget = _budget.get()
    if budget is not None:
        budget.charge(size)
        budget.tick()
    return value


def check_arguments(args: tuple, kwargs: dict) -> None:
    """Before a call: a number argument over MAX_ARGUMENT (a width, a count, a size) is refused,
    so `b'x'.ljust(300000000)` never allocates."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ARGUMENT:
            raise ReplyLimitError(f"numbers passed to functions in a reply are limited to {MAX_ARGUMENT}")
        if isinstance(value, float) and abs(value) > MAX_ARGUMENT:
            raise ReplyLimitError(f"numbers passed to functions in a reply are limited to {MAX_ARGUMENT}")
