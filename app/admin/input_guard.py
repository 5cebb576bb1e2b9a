"""Hostile input at the admin's door: 400 or 404, never a server error.

Ids in URLs and the few number parameters become SQL parameters; a value too large for the
column (PostgreSQL `integer`, SQLite's 64-bit INTEGER) made the database driver fail with a 500.
Text with NUL cannot be stored or compared in PostgreSQL, and a lone surrogate cannot be encoded.
One check before every admin view, instead of one in each of them.
"""

from __future__ import annotations

import re

from flask import abort, request

from app.admin import bp
from app.conversations import queries

MAX_ID = 2**31 - 1  # the id columns are INTEGER
NUMBER_FIELDS = ("before", "after", "user_id")  # query or form fields read as ids
MAX_CURSOR = 256  # a real inbox cursor is about 60 characters
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_DIGITS = re.compile(r"\s*[+-]?[0-9]+\s*")


@bp.before_request
def refuse_hostile_input() -> None:
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and not 0 <= value <= MAX_ID:
            abort(404)
    for source in (request.args, request.form):
        for key, value in source.items(multi=True):
            if _UNSTORABLE.search(key) or _UNSTORABLE.search(value):
                abort(400, description="text may not contain NUL or unpaired surrogate characters")
    for name in NUMBER_FIELDS:
        for value in (*request.args.getlist(name), *request.form.getlist(name)):
            _check_number(name, value)
    cursor = request.args.get("cursor", "")
    if cursor:
        _check_cursor(cursor)


def _check_number(name: str, value: str) -> None:
    stripped = value.strip()
    if not stripped:
        return
    if not _DIGITS.fullmatch(stripped) or len(stripped) > 12 or abs(int(stripped)) > MAX_ID:
        abort(400, description=f"'{name}' must be a whole number up to {MAX_ID}")


def _check_cursor(cursor: str) -> None:
    if len(cursor) > MAX_CURSOR:
        abort(400, description="the cursor is not valid; start again without it")
    try:
        decoded = queries.Cursor.decode(cursor)
    except queries.BadCursor:
        return  # the inbox says so and shows the newest threads
    except RecursionError:
        abort(400, description="the cursor is not valid; start again without it")
    if not 0 <= decoded.id <= MAX_ID:
        abort(400, description="the cursor is not valid; start again without it")
