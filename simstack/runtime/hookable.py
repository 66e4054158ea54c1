"""Runtime classes whose methods can be wrapped per instance, for checkers and loggers.

When the runtime model is compiled (mypyc, see ``setup.py``), its classes are native:
their instances have no ``__dict__``, so a method cannot be replaced on one instance,
and compiled code calls methods directly.  The invariant checker
(``simstack.invariants.install``) and ``simstack validate``'s plan recorder wrap methods
of one runtime; they need these subclasses, defined in this (never compiled) module:
instances have a ``__dict__``, so a wrapper can be set on one instance.  Python code
calling the method finds the wrapper, and so does compiled code calling a method of
the heap or the allocator; compiled code calling a method the Runtime takes from its
mixins (mypyc traits: ``park``, ``runqput``, ``goexit``...) does not, so the engine
runs its Ps as plain Python when wrappers are installed
(``simstack.runtime._native.plain_module``).  Without compilation they are plain
subclasses that change nothing.
"""
from __future__ import annotations

from .mheap import MHeap
from .profiles import Profile
from .runtime import Runtime
from .stack import StackAllocator


class HookableMHeap(MHeap):
    pass


class HookableStackAllocator(StackAllocator):
    pass


class HookableRuntime(Runtime):
    """A :class:`Runtime` whose (and whose heap's and allocator's) methods may be wrapped per instance."""

    def _new_mheap(self, page_size: int) -> MHeap:
        return HookableMHeap(page_size)

    def _new_stacks(self, profile: Profile, mheap: MHeap, emit) -> StackAllocator:
        return HookableStackAllocator(profile, mheap, emit)


def is_hookable(obj) -> bool:
    """Whether methods can be replaced on this instance (it has a ``__dict__``)."""
    return hasattr(obj, "__dict__")
