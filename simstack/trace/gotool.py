"""Build ``gotool/main.go`` against the toolchain's own trace parser, once per toolchain.

The Go standard library's trace parser (``internal/trace``) cannot be imported from
outside GOROOT, so the build copies it (with ``internal/trace/tracev2``, ``version`` and
``internal/tracev1``, tests left out) from the toolchain's GOROOT into a module of its
own with the import paths rewritten, as ``golang.org/x/exp/trace`` is made.  The binary
is cached under ``$SIMSTACK_CACHE`` (default ``~/.cache/simstack``) by toolchain version
and source digest.  When it cannot be built (a toolchain whose parser API differs), the
reader falls back to ``go tool trace -d=parsed``, which gives the same events, slower.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("gotool") / "main.go"
PACKAGES = ("trace", "trace/tracev2", "trace/version", "trace/internal/tracev1")


def cache_root() -> Path:
    return Path(os.environ.get("SIMSTACK_CACHE") or Path.home() / ".cache" / "simstack")


def build_event_tool(tc) -> Path | None:
    """The event printer built with toolchain ``tc`` (cached), or None if it does not build."""
    from ..validate.toolchain import offline_env

    digest = hashlib.sha256(SOURCE.read_bytes() + tc.version.encode()).hexdigest()[:16]
    out = cache_root() / "trace-events" / f"{tc.version}-{digest}" / "simstack-trace-events"
    if out.is_file():
        return out
    goroot = _goroot(tc)
    if goroot is None:
        return None
    with tempfile.TemporaryDirectory(prefix="simstack-trace-tool-") as tmp:
        mod = Path(tmp) / "src"
        for pkg in PACKAGES:
            src, dst = goroot / "src" / "internal" / pkg, mod / "internal" / pkg
            if not src.is_dir():
                return None
            dst.mkdir(parents=True, exist_ok=True)
            for f in src.glob("*.go"):
                if not f.name.endswith("_test.go"):
                    text = f.read_text().replace('"internal/trace', '"simstacktrace/internal/trace')
                    (dst / f.name).write_text(text)
        shutil.copy(SOURCE, mod / "main.go")
        (mod / "go.mod").write_text("module simstacktrace\n\ngo 1.23\n")
        env = offline_env(Path(tmp) / "work", None)
        cache = cache_root() / "gocache"
        env.update(GOCACHE=str(cache), GOFLAGS="-mod=mod")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = out.with_name(out.name + ".tmp")
        r = subprocess.run([str(tc.go), "build", "-o", str(tmp_out), "."], cwd=mod, env=env, capture_output=True,
                           text=True, timeout=600)
        if r.returncode != 0:
            return None
        tmp_out.rename(out)  # atomically: a half-built binary is never taken
    return out


def _goroot(tc) -> Path | None:
    from ..validate.toolchain import offline_env

    with tempfile.TemporaryDirectory(prefix="simstack-go-") as tmp:
        r = subprocess.run([str(tc.go), "env", "GOROOT"], capture_output=True, text=True,
                           env=offline_env(Path(tmp), None), timeout=60)
    root = Path(r.stdout.strip()) if r.returncode == 0 and r.stdout.strip() else None
    return root if root is not None and (root / "src" / "internal" / "trace").is_dir() else None
