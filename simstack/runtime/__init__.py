# Picks the compiled (mypyc) or the plain Python runtime model before any of it is imported.
from ._native import COMPILED_IN_USE  # noqa: F401
