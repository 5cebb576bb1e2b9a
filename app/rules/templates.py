"""Reply templates: Jinja in a locked-down sandbox, rendered to plain SMS text.

Rule replies and campaign bodies are written by signed-in people, but a template must neither
escape the sandbox nor stall or bloat the process that renders it. The layers:

- `ImmutableSandboxedEnvironment`: no `_private` attributes, no mutating methods; autoescape off
  (SMS is text, not HTML); anything undefined renders as an empty string, but reaching an attribute
  the sandbox refuses (`''.__class__`) fails the render instead of printing nothing.
- Constructs that buffer or recurse are refused when the template is compiled: macros, call and
  filter blocks, block `set`, recursive loops, include/import/extends, `self`, names starting `_`.
- Hard limits from `app.rules.limits`, enforced by the environment's own hooks on every render:
  every call, attribute and item lookup, operator, filter, list/dict literal, loop step and printed
  value checks the deadline, and every value created is measured (see that module).
- Only plain values may be printed: text, numbers, and lists or mappings of them; printing a
  function or an object fails the render.
- Output is streamed and cut at `MAX_REPLY` characters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from jinja2 import ChainableUndefined, TemplateError, meta, nodes, pass_environment, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.filters import do_join, do_replace, do_sum
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Joiner
from jinja2.visitor import NodeTransformer

from app.rules import limits
from app.rules.limits import MAX_INT_BITS, MAX_ITERATIONS, MAX_VALUE, ReplyLimitError, check_length, checked

MAX_REPLY = 1600
MAX_RANGE = 1000
__all__ = [
    "MAX_INT_BITS",
    "MAX_ITERATIONS",
    "MAX_RANGE",
    "MAX_REPLY",
    "MAX_VALUE",
    "ReplyLimitError",
    "ReplyTemplateError",
    "check_reply",
    "compile_reply",
    "compile_reply_uncached",
    "render_reply",
]

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
_GROWING_METHODS = frozenset(
    {
        "center",
        "ljust",
        "rjust",
        "zfill",
        "expandtabs",
        "format",
        "format_map",
        "join",
        "replace",
        "translate",
        "maketrans",
    }
)
_PLAIN = (str, int, float, Decimal, bool, type(None))
_SPACES = re.compile(r" {2,}")


class ReplyTemplateError(ValueError):
    """The template does not compile, uses something refused here, or failed while rendering.

    `limit` is True when a hard limit stopped it; `transient` when only the clock ran out on a
    busy machine (the template is not to blame)."""

    def __init__(self, message: str, *, limit: bool = False, transient: bool = False) -> None:
        super().__init__(message)
        self.limit = limit
        self.transient = transient


def _loop_guard(iterable: Any) -> Iterator[Any]:
    budget = limits.current()
    for item in iterable:
        if budget is not None:
            budget.spend(1)
        yield item


def _concat(*parts: Any) -> str:
    total = 0
    strings = []
    for part in parts:
        text = str(part)
        total += len(text)
        check_length(total)
        strings.append(text)
    return "".join(strings)


def _literal(value: Any) -> Any:
    """List, tuple and dict literals pass here (through `call`, which measures the result)."""
    return value


def safe_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise ReplyLimitError(f"range() is limited to {MAX_RANGE} items")
    return result


@pass_eval_context
def _safe_join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    return checked(do_join(eval_ctx, value, d, attribute))


@pass_eval_context
def _safe_replace(eval_ctx: Any, s: str, old: str, new: str, count: int | None = None) -> str:
    text, old, new = str(s), str(old), str(new)
    if old and len(new) > len(old):
        check_length(len(text) + text.count(old) * (len(new) - len(old)))
    return do_replace(eval_ctx, s, old, new, count)


@pass_environment
def _safe_sum(environment: Any, iterable: Iterable[Any], attribute: Any = None, start: Any = 0) -> Any:
    if not isinstance(start, int | float):
        raise SecurityError("sum() adds numbers only")
    return do_sum(environment, iterable, attribute, start)


def _limited_filter(function: Any) -> Any:
    """Every filter: the deadline before, the result measured. (The filters that grow text by a
    number argument, center, indent, wordwrap, format, are removed; the others cannot blow up
    before their result is measured, so `default(100000)` stays fine.)"""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        limits.tick()
        return checked(function(*args, **kwargs))

    return run


def _printable(value: Any) -> Any:
    """`finalize`: what `{{ }}` may print. Missing values render empty; functions, classes,
    template internals and other objects fail the render rather than leak their repr."""
    limits.tick()
    if isinstance(value, (Undefined, *_PLAIN)):
        return value
    if isinstance(value, list | tuple | dict) and _all_plain(value):
        return value
    kind = getattr(type(value), "__name__", "object")
    raise SecurityError(f"the reply prints a {kind}, not text or a number")


def _all_plain(value: Any) -> bool:
    stack, seen = [value], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > MAX_VALUE:
            return False
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif not isinstance(item, _PLAIN):
            return False
    return True


class _ReplyEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        limits.tick()
        if operator == "**" and isinstance(left, int) and isinstance(right, int):
            if right > 0 and max(left.bit_length(), 1) * right > MAX_INT_BITS:
                raise ReplyLimitError("number too large")
        elif operator == "*":
            if isinstance(left, int) and isinstance(right, int):
                if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                    raise ReplyLimitError("number too large")
            else:
                sequence, times = (left, right) if isinstance(right, int) else (right, left)
                if isinstance(times, int) and hasattr(sequence, "__len__"):
                    check_length(len(sequence) * times)
        elif operator == "%" and isinstance(left, str | bytes):
            raise SecurityError("%-formatting is not available in replies; use ~ to join text")
        elif operator == "+" and hasattr(left, "__len__") and hasattr(right, "__len__"):
            check_length(len(left) + len(right))
        return checked(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        limits.tick()
        if not any(__obj is own for own in _OWN_CHECKS):
            limits.check_arguments(args, kwargs)
        return checked(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        limits.tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        limits.tick()
        return super().getitem(obj, argument)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        """The stock sandbox renders a refused attribute as empty; here it fails, and says where."""
        raise SecurityError(f"{attribute!r} of {type(obj).__name__} is not available in replies")

    def wrap_str_format(self, value: Any) -> None:
        """No str.format / format_map at all (the sandbox's own wrapper does not limit widths)."""
        return None

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str | bytes | bytearray) and attr in _GROWING_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)


class _Guard(NodeTransformer):
    """Feeds every loop through `_loop_guard`, every `~` through `_concat`, and every list, tuple
    and dict literal through `_literal` (so `call` measures what it builds)."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name("_loop_guard", "load"), [node.iter], [], None, None)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)
        return nodes.Call(nodes.Name("_concat", "load"), list(node.nodes), [], None, None)

    def _wrap_literal(self, node: nodes.Node) -> nodes.Node:
        node = self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":
            return node
        return nodes.Call(nodes.Name("_literal", "load"), [node], [], None, None)

    visit_List = _wrap_literal
    visit_Dict = _wrap_literal

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        return self._wrap_literal(node) if node.ctx == "load" else self.generic_visit(node)


def _make_environment() -> _ReplyEnvironment:
    env = _ReplyEnvironment(
        autoescape=False, undefined=ChainableUndefined, keep_trailing_newline=False, finalize=_printable
    )
    env.globals.clear()
    env.globals.update(
        range=safe_range,
        dict=dict,
        cycler=Cycler,
        joiner=Joiner,
        _loop_guard=_loop_guard,
        _concat=_concat,
        _literal=_literal,
    )
    for name in _REMOVED_FILTERS:
        env.filters.pop(name, None)
    env.filters.update(join=_safe_join, replace=_safe_replace, sum=_safe_sum)
    env.filters = {name: _limited_filter(function) for name, function in env.filters.items()}
    return env


_env = _make_environment()
# These check their own arguments (range: its length; the rest only join or pass values along).
_OWN_CHECKS = (safe_range, _concat, _literal, _loop_guard)
GLOBAL_NAMES = frozenset(name for name in _env.globals if not name.startswith("_"))


def _refuse(source_ast: nodes.Template) -> None:
    for node in source_ast.find_all(nodes.Node):
        for kind, what in _FORBIDDEN.items():
            if isinstance(node, kind):
                raise ReplyTemplateError(f"{what} are not available in replies (line {node.lineno})")
        if isinstance(node, nodes.For) and node.recursive:
            raise ReplyTemplateError(f"recursive loops are not available in replies (line {node.lineno})")
        if isinstance(node, nodes.Name) and node.name.startswith("_"):
            raise ReplyTemplateError(f"names starting with _ are not available (line {node.lineno})")
        if isinstance(node, nodes.Name) and node.name == "self":
            raise ReplyTemplateError(f"'self' is not available in replies (line {node.lineno})")


def parse_reply(template: str) -> nodes.Template:
    """The template's syntax tree, or ReplyTemplateError saying what is wrong (no render)."""
    try:
        source_ast = _env.parse(template)
        _refuse(source_ast)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise ReplyTemplateError(f"{exc.message}" + (f" (line {line})" if line else "")) from None
    except RecursionError:  # Jinja's parser and the tree walks recurse once per nesting level
        raise ReplyTemplateError("the template is too deeply nested") from None
    return source_ast


@functools.lru_cache(maxsize=512)
def compile_reply(template: str) -> Any:
    """The compiled template, or ReplyTemplateError saying what is wrong (cached per source: for
    previews and tests; a rule keeps its own, RuleSpec.compiled_reply, so that more rules than
    this cache holds do not evict each other's, each compile costing 0.5–2 ms)."""
    return compile_reply_uncached(template)


def compile_reply_uncached(template: str) -> Any:
    """compile_reply without the cache."""
    source_ast = parse_reply(template)
    try:
        guarded = _Guard().visit(source_ast)
        guarded.set_environment(_env)
        return _env.from_string(guarded)
    except TemplateError as exc:
        raise ReplyTemplateError(str(exc.message)) from None
    except (SyntaxError, RecursionError, MemoryError, ValueError) as exc:  # Python's own compiler limits
        raise ReplyTemplateError(f"the template is too deeply nested or too large: {exc}") from None


def render_reply(template: str, context: dict, compiled: Any = None) -> str:
    """Render a reply: spaces collapsed, stripped, at most MAX_REPLY characters.

    `context` is `{"contact": {"name", "phone"}, "message": {"body", "from", "to"}, "brand": ...}`;
    leave a key out (rather than None) when unknown, so it renders empty and `default()` works.
    """
    if compiled is None:
        compiled = compile_reply(template)
    token = limits.start()
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
    except ReplyLimitError as exc:
        raise ReplyTemplateError(str(exc), limit=True, transient=exc.transient) from None
    except (MemoryError, RecursionError) as exc:
        reason = f"the reply could not be rendered: {type(exc).__name__}"
        raise ReplyTemplateError(reason, limit=True) from None
    except Exception as exc:  # a template is admin-written code: any failure is a template error
        raise ReplyTemplateError(f"the reply could not be rendered: {exc}") from None
    finally:
        limits.stop(token)
    return _SPACES.sub(" ", "".join(pieces)).strip()[:MAX_REPLY]


def check_reply(template: str, samples: list[dict], names: Iterable[str]) -> list[str]:
    """Save-time check of a reply or campaign template; the renders of `samples`, in order.

    Refused, with the reason: a template that does not compile, names anything but `names` and
    the few globals, fails to render for a sample, renders empty for the first sample, or reaches
    anything but plain values (`''.__class__`, `{{ range }}`, `{{ self }}`). Branches the samples do
    not take are not rendered here: the render limits are what guard those at run time.
    """
    allowed = set(names)
    compile_reply(template)
    unknown = meta.find_undeclared_variables(parse_reply(template)) - allowed - GLOBAL_NAMES
    if unknown:
        raise ReplyTemplateError(
            f"unknown name {sorted(unknown)[0]!r}; a reply can use {', '.join(sorted(allowed))}"
        )
    outputs = [render_reply(template, sample) for sample in samples]
    if template.strip() and not outputs[0]:
        raise ReplyTemplateError("the reply renders empty for a sample contact, so nothing would be sent")
    return outputs
