"""Reply templates: Jinja in a locked-down sandbox, rendered to plain SMS text.

Rule templates are written by signed-in admins, but a template must still neither escape the
sandbox nor stall the webhook that renders it. The layers, each cheap:

- `ImmutableSandboxedEnvironment`: no `_private` attributes, no mutating methods; autoescape off
  (SMS is text, not HTML); anything undefined renders as an empty string.
- Constructs that buffer or recurse are refused when the template is compiled: macros, call and
  filter blocks, block `set`, recursive loops, include/import/extends, names starting with `_`.
- Every `for` loop is fed through a guard that allows `MAX_ITERATIONS` in the whole render, and every
  `~`, `+`, `*`, `**` and `%` is checked so no value grows past `MAX_VALUE` characters or items;
  `range()` is capped at `MAX_RANGE`; padding/growing filters and methods are removed or capped.
- Output is streamed and cut at `MAX_REPLY` characters.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from jinja2 import ChainableUndefined, TemplateError, nodes, pass_environment, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.filters import do_join, do_replace, do_sum
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Joiner
from jinja2.visitor import NodeTransformer

MAX_REPLY = 1600
MAX_RANGE = 1000
MAX_ITERATIONS = 10_000
MAX_VALUE = 10_000
MAX_INT_BITS = 4096
MAX_SECONDS = 0.5

_FORBIDDEN = {
    nodes.Macro: "macros",
    nodes.CallBlock: "call blocks",
    nodes.FilterBlock: "filter blocks",
    nodes.AssignBlock: "block sets ({% set %}...{% endset %})",
    nodes.Extends: "extends tags",
    nodes.Include: "include tags",
    nodes.Import: "import tags",
    nodes.FromImport: "import tags",
}
_REMOVED_FILTERS = ("center", "indent", "wordwrap", "format", "batch", "slice", "xmlattr")
_GROWING_STR_METHODS = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "format", "format_map", "join", "replace"}
)
_SPACES = re.compile(r" {2,}")


class ReplyTemplateError(ValueError):
    """The template does not compile, uses something refused here, or failed while rendering."""


class _Budget:
    __slots__ = ("iterations", "deadline")

    def __init__(self) -> None:
        self.iterations = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def spend(self, iterations: int = 0) -> None:
        self.iterations += iterations
        if self.iterations > MAX_ITERATIONS:
            raise SecurityError(f"loops may run at most {MAX_ITERATIONS} times in one reply")
        if time.monotonic() > self.deadline:
            raise SecurityError("the template took too long to render")


_budget: ContextVar[_Budget | None] = ContextVar("reply_template_budget", default=None)


def _spend(iterations: int = 0) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.spend(iterations)


def _check_size_of(length: int) -> None:
    if length > MAX_VALUE:
        raise SecurityError(f"values in a template are limited to {MAX_VALUE} characters or items")


def _check_size(value: Any) -> Any:
    if isinstance(value, str | bytes | list | tuple):
        _check_size_of(len(value))
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise SecurityError("number too large")
    return value


def _loop_guard(iterable: Any) -> Iterator[Any]:
    for item in iterable:
        _spend(1)
        yield item


def _concat(*parts: Any) -> str:
    total = 0
    strings = []
    for part in parts:
        text = str(part)
        total += len(text)
        _check_size_of(total)
        strings.append(text)
    return "".join(strings)


def safe_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items")
    return result


@pass_eval_context
def _safe_join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    return _check_size(do_join(eval_ctx, value, d, attribute))


@pass_eval_context
def _safe_replace(eval_ctx: Any, s: str, old: str, new: str, count: int | None = None) -> str:
    text, old, new = str(s), str(old), str(new)
    if old and len(new) > len(old):
        _check_size_of(len(text) + text.count(old) * (len(new) - len(old)))
    return do_replace(eval_ctx, s, old, new, count)


@pass_environment
def _safe_sum(environment: Any, iterable: Iterable[Any], attribute: Any = None, start: Any = 0) -> Any:
    if not isinstance(start, int | float):
        raise SecurityError("sum() adds numbers only")
    return do_sum(environment, iterable, attribute, start)


class _ReplyEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _spend()
        if operator == "**" and isinstance(left, int) and isinstance(right, int):
            if right > 0 and max(left.bit_length(), 1) * right > MAX_INT_BITS:
                raise SecurityError("number too large")
        elif operator == "*":
            if isinstance(left, int) and isinstance(right, int):
                if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                    raise SecurityError("number too large")
            else:
                sequence, times = (left, right) if isinstance(right, int) else (right, left)
                if isinstance(times, int) and hasattr(sequence, "__len__"):
                    _check_size_of(len(sequence) * times)
        elif operator == "%" and isinstance(left, str):
            raise SecurityError("%-formatting is not available in replies; use ~ to join text")
        elif operator == "+" and hasattr(left, "__len__") and hasattr(right, "__len__"):
            _check_size_of(len(left) + len(right))
        return _check_size(super().call_binop(context, operator, left, right))

    def wrap_str_format(self, value: Any) -> None:
        """No str.format / format_map at all (the sandbox's own wrapper does not limit widths)."""
        return None

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in _GROWING_STR_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)


class _Guard(NodeTransformer):
    """Feeds every loop through `_loop_guard` and every `~` through `_concat`."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name("_loop_guard", "load"), [node.iter], [], None, None)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)
        return nodes.Call(nodes.Name("_concat", "load"), list(node.nodes), [], None, None)


def _make_environment() -> _ReplyEnvironment:
    env = _ReplyEnvironment(autoescape=False, undefined=ChainableUndefined, keep_trailing_newline=False)
    env.globals.clear()
    env.globals.update(
        range=safe_range, dict=dict, cycler=Cycler, joiner=Joiner, _loop_guard=_loop_guard, _concat=_concat
    )
    for name in _REMOVED_FILTERS:
        env.filters.pop(name, None)
    env.filters.update(join=_safe_join, replace=_safe_replace, sum=_safe_sum)
    return env


_env = _make_environment()


def _refuse(source_ast: nodes.Template) -> None:
    for node in source_ast.find_all(nodes.Node):
        for kind, what in _FORBIDDEN.items():
            if isinstance(node, kind):
                raise ReplyTemplateError(f"{what} are not available in replies (line {node.lineno})")
        if isinstance(node, nodes.For) and node.recursive:
            raise ReplyTemplateError(f"recursive loops are not available in replies (line {node.lineno})")
        if isinstance(node, nodes.Name) and node.name.startswith("_"):
            raise ReplyTemplateError(f"names starting with _ are not available (line {node.lineno})")


@functools.lru_cache(maxsize=512)
def compile_reply(template: str) -> Any:
    """The compiled template, or ReplyTemplateError saying what is wrong (cached per source)."""
    try:
        source_ast = _env.parse(template)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise ReplyTemplateError(f"{exc.message}" + (f" (line {line})" if line else "")) from None
    _refuse(source_ast)
    guarded = _Guard().visit(source_ast)
    guarded.set_environment(_env)
    try:
        return _env.from_string(guarded)
    except TemplateError as exc:
        raise ReplyTemplateError(str(exc.message)) from None


def render_reply(template: str, context: dict) -> str:
    """Render a reply: spaces collapsed, stripped, at most MAX_REPLY characters.

    `context` is `{"contact": {"name", "phone"}, "message": {"body", "from", "to"}, "brand": ...}`;
    leave a key out (rather than None) when unknown, so it renders empty and `default()` works.
    """
    compiled = compile_reply(template)
    token = _budget.set(_Budget())
    pieces: list[str] = []
    size = 0
    try:
        stream = compiled.generate(context)
        try:
            for piece in stream:
                pieces.append(piece)
                size += len(piece)
                if size > MAX_REPLY * 2:
                    break
        finally:
            stream.close()
    except ReplyTemplateError:
        raise
    except Exception as exc:  # a template is admin-written code: any failure is a template error
        raise ReplyTemplateError(f"the reply could not be rendered: {exc}") from None
    finally:
        _budget.reset(token)
    return _SPACES.sub(" ", "".join(pieces)).strip()[:MAX_REPLY]
