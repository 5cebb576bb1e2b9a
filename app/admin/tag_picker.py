"""The desk's tag picker: `known_tags()` in templates lists the tags in use (first spellings).

Templates call it only where a tag field is shown (thread, rule form), so other pages pay nothing.
static/tags.js then offers the list for each comma-separated tag, not only the first.
"""

from __future__ import annotations

from app.admin import bp
from app.conversations import tags


@bp.app_template_global("known_tags")
def known_tags() -> list[str]:
    return tags.known()
