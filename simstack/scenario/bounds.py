"""What reading one scenario file may cost, at most, before anything is built.

Scenario files travel between people and into sweeps on shared machines, so reading
one must be bounded whatever it holds.  PyYAML composes a graph of nodes in which an
alias is the anchored node itself, so a few hundred bytes of nested aliases (``&a
[*a, *a, ...]``, "billion laughs") or merge keys (``<<: [*a, *a]``) stand for billions
of values; building plain data from them is what would hang.  The bounds, checked while
composing and on the composed graph before any value is built:

* ``MAX_BYTES``: the file's size (4 MiB; the largest reference plan is about 60 KB).
* ``MAX_NODES``: values (scalars, lists, mappings) in the document as written, and again
  after expanding aliases and merge keys (250,000: about 7 s and 250 MB to read here).
* ``MAX_DEPTH``: lists and mappings nested in each other, as written and after expansion
  (64 levels; a scenario needs about 8).
"""
from __future__ import annotations

from yaml.events import AliasEvent
from yaml.nodes import MappingNode, SequenceNode

MAX_BYTES = 4 * 2**20
MAX_NODES = 250_000
MAX_DEPTH = 64

TOO_BIG = f"a scenario file may have at most 4 MiB ({MAX_BYTES:,} bytes)"
TOO_MANY = f"a scenario file may hold at most {MAX_NODES:,}"
TOO_DEEP = f"a scenario file may nest at most {MAX_DEPTH} levels"


class TooLarge(Exception):
    """Reading stopped at a bound: ``mark`` (a YAML mark or None) and ``path`` say where."""

    def __init__(self, mark, path: tuple, message: str):
        super().__init__(message)
        self.mark, self.path, self.message = mark, path, message


class BoundedComposer:
    """Mixin for a PyYAML loader: composing stops past MAX_NODES values or MAX_DEPTH levels."""

    _nodes = 0
    _path: tuple = ()  # of the node being composed; a mapping key is not a level of its own

    def compose_node(self, parent, index):
        part = index if isinstance(parent, SequenceNode) else getattr(index, "value", None)
        if isinstance(parent, MappingNode) and index is None:  # the key of a pair: reported at its mapping
            part = None
        path = self._path if part is None else self._path + (part,)
        if not self.check_event(AliasEvent):  # an alias adds no node: expansion is checked afterwards
            self._nodes += 1
            if self._nodes > MAX_NODES:
                raise TooLarge(self.peek_event().start_mark, path,
                               f"more than {MAX_NODES:,} values (scalars, lists, mappings); {TOO_MANY}")
        if len(path) >= MAX_DEPTH:
            raise TooLarge(self.peek_event().start_mark, path, f"nested more than {MAX_DEPTH} levels deep; "
                                                               f"{TOO_DEEP}")
        saved, self._path = self._path, path
        try:
            return super().compose_node(parent, index)
        finally:
            self._path = saved


def check_expansion(root) -> None:
    """Raise :class:`TooLarge` if aliases and merge keys expand ``root`` past the bounds.

    Each node is measured once (size and height memoized), so this costs one pass over the
    nodes as written however far they would expand.
    """
    _expanded(root, (), 1, {}, set(), None)


def expanded_values(root) -> int:
    """The values ``root`` holds once aliases and merge keys are expanded, as the bound counts them, past
    the bound too (``simstack fit`` sizes its rounds by it)."""
    return _expanded(root, (), 1, {}, set(), None, float("inf"))[0]


def _expanded(node, path: tuple, depth: int, memo: dict, active: set, parent,
              limit: float = MAX_NODES) -> tuple[int, int]:
    """(values, levels) of ``node`` once expanded, reached at nesting ``depth`` by ``path``; past ``limit``
    values, TooLarge."""
    key = id(node)
    if key in active:  # a recursive alias: the loader reports it where it builds the data
        return 1, 1
    if key in memo:  # an alias (or merge) of a node measured where it was defined
        size, height = memo[key]
        if depth + height - 1 > MAX_DEPTH:
            raise TooLarge((parent or node).start_mark, path,
                           f"aliases nest this value more than {MAX_DEPTH} levels deep; {TOO_DEEP}")
        return size, height
    if depth > MAX_DEPTH:
        raise TooLarge(node.start_mark, path, f"nested more than {MAX_DEPTH} levels deep; {TOO_DEEP}")
    size, height = 1, 1
    if isinstance(node, (SequenceNode, MappingNode)):
        active.add(key)
        if isinstance(node, SequenceNode):
            children = [(path + (i,), item) for i, item in enumerate(node.value)]
        else:
            children = [(path + (getattr(k, "value", "?"),), n) for k, v in node.value for n in (k, v)]
        for child_path, child in children:
            defined_here = id(child) not in memo
            s, h = _expanded(child, child_path, depth + 1, memo, active, node, limit)
            size += s
            height = max(height, h + 1)
            if size > limit:
                if not path and defined_here:  # the whole document: say which top-level value tipped it
                    raise TooLarge(child.start_mark, child_path, f"aliases expand the document to more than "
                                                                 f"{MAX_NODES:,} values by here; {TOO_MANY} after "
                                                                 "expanding aliases")
                raise TooLarge(node.start_mark, path, f"aliases expand this value to more than {MAX_NODES:,} "
                                                      f"values; {TOO_MANY} after expanding aliases")
        active.discard(key)
    memo[key] = size, height
    return size, height
