# The runtime package decides, before any engine module loads, whether the compiled
# modules (the runtime model and engine/ps.py) or their plain Python sources are used.
from .. import runtime as _runtime  # noqa: F401
