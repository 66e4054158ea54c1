"""The fitted scenario as YAML a person can read and edit: every fitted number with a comment
saying where it came from.

Written from the fitted data line by line rather than through a YAML library: the comments
belong to particular keys (PyYAML drops comments; ruamel.yaml would need a round-trip tree
built just to attach them), and the shapes are few and fixed.  Values are written in the
scenario's units (``1.5ms``, ``2KiB``) in YAML flow style; the text is checked by loading it
with the scenario loader before it is written (:func:`simstack.fit.write_scenario`).
"""
from __future__ import annotations

import textwrap

from .laws import Law


def time_text(s: float, digits: int = 4) -> str:
    """Seconds as the scenario's time syntax, to ``digits`` significant digits (0 is '0s')."""
    if s == 0:
        return "0s"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(s) >= scale:
            return f"{s / scale:.{digits}g}{unit}"
    return f"{s * 1e9:.{digits}g}ns"


def _law(law, kind: str) -> str:
    """A distribution (Law, int or 'forever') in flow style; ``kind`` 'time' or 'int'."""
    if not isinstance(law, Law):
        return str(law)
    fmt = time_text if kind == "time" else (lambda v: str(int(round(v))))
    if law.kind == "constant":
        return fmt(law.value)
    if law.kind == "exponential":
        return f"{{dist: exponential, mean: {fmt(law.mean)}}}"
    vals = ", ".join(fmt(v) for v in law.values)
    if law.kind == "sequence" and law.at:
        others = f", others: {fmt(law.others)}" if law.others is not None else ""
        return f"{{dist: sequence, values: [{vals}], at: [{', '.join(map(str, law.at))}]{others}}}"
    if law.kind == "sequence":
        return f"{{dist: sequence, values: [{vals}]}}"
    w = f", weights: [{', '.join(map(str, law.weights))}]" if law.weights else ""
    return f"{{dist: empirical, values: [{vals}]{w}}}"


def _comment(lines, indent: str, width: int = 100) -> list[str]:
    out = []
    for line in lines:
        out += textwrap.wrap(line, width - len(indent) - 2, initial_indent=indent + "# ",
                             subsequent_indent=indent + "#   ")
    return out


def _flow_list(items: list[str], indent: str, width: int = 100) -> str:
    """``[a, b, ...]`` wrapped onto continuation lines at ``indent`` (a YAML flow sequence may span lines)."""
    lines, cur = [], "["
    for k, item in enumerate(items):
        piece = item + ("," if k < len(items) - 1 else "]")
        if len(indent) + len(cur) + len(piece) + 1 > width and cur != "[":
            lines.append(cur.rstrip())
            cur = ""
        cur += piece + " "
    lines.append(cur.rstrip() if items else "[]")
    return ("\n" + indent).join(lines)


def _arrival(a: dict) -> str:
    p = a["process"]
    if p == "spawned":
        return "{process: spawned}"
    if p == "burst":
        return f"{{process: burst, at: {time_text(a['at'])}}}"
    if p == "poisson":
        return f"{{process: poisson, rate: {a['rate']:.6g}/s, start: {time_text(a['start'])}}}"
    return "{process: trace, times: " + _flow_list([time_text(t) for t in a["times"]], " " * 8) + "}"


def render(fit) -> str:
    """The commented scenario text of a :class:`~.fit.Fit`."""
    out = [f"# Fitted by `simstack fit` from the trace {fit.source}.",
           "# Every number below was measured in that trace or inferred from it; the comments say which and how.",
           "# Frames (frame, entry_frame) are chosen, not observed: a trace shows stack sizes, not frames;",
           "# the depths are inferred so that each goroutine reaches the stack sizes the trace shows.",
           "# Edit freely: it is an ordinary scenario (docs/fit.md).",
           f"name: {fit.name}",
           f"description: fitted from {fit.source.rsplit('/', 1)[-1]}",
           f"duration: {time_text(fit.duration)}  # the trace's length",
           "runtime:"]
    out += _comment(fit.runtime_notes, "  ")
    rt = fit.runtime
    out += [f"  version: {rt['version']}", f"  platform: {rt['platform']}", f"  gomaxprocs: {rt['gomaxprocs']}"]
    if rt.get("gomaxprocs_changes"):
        out.append("  gomaxprocs_changes:")
        out += [f"    - {{at: {time_text(t, 7)}, gomaxprocs: {n}}}" for t, n in rt["gomaxprocs_changes"]]
    if rt.get("overrides"):
        out.append("  overrides: {" + ", ".join(f"{k}: {time_text(v) if k == 'timer_resolution' else v}"
                                                for k, v in rt["overrides"].items()) + "}")
    if rt.get("cpu"):
        out.append("  cpu: {" + ", ".join(f"{k}: {time_text(v)}" for k, v in rt["cpu"].items()) + "}")
    out.append("gc:")
    out += _comment(fit.gc_notes, "  ")
    gc = fit.gc
    out.append(f"  trigger: {gc['trigger']}")
    if gc["trigger"] == "manual":
        out.append("  at: " + _flow_list([time_text(t) for t in gc["at"]], " " * 4))
    else:
        out += [f"  gogc: {gc['gogc']}", f"  live_heap: {gc['live_heap']}B"]
    out.append(f"  mark_duration: {time_text(gc['mark_duration'])}")
    if gc.get("mark_durations"):
        out.append("  mark_durations: " + _flow_list([time_text(t) for t in gc["mark_durations"]], " " * 4))
    if gc.get("follow"):
        out.append("  follow: " + _flow_list([f or "null" for f in gc["follow"]], " " * 4))
    if fit.notes or fit.warnings:
        out += _comment(fit.notes + [f"WARNING: {w}" for w in fit.warnings], "")
    gates = [gate for c in fit.classes for gate in c.gates]
    if gates:
        out += ["gates:"] + _comment(["inferred: where a class's goroutines were woken together, the times the waves "
                                      "began and how many each woke (see the class)"], "  ")
        for gate in gates:
            out.append(f"  - name: {gate['name']}")
            out.append("    open_at: " + _flow_list([time_text(t, 7) for t in gate["open_at"]], " " * 6))
            if gate["wait_for"]:
                out.append("    wait_for: " + _flow_list([str(n) for n in gate["wait_for"]], " " * 6))
    out.append("goroutines:")
    for c in fit.classes:
        s = c.spec
        out += _comment(c.notes, "  ")
        out.append(f"  - name: {s['name']}")
        if "count" in s:
            out.append(f"    count: {s['count']}")
        out.append(f"    arrival: {_arrival(s['arrival'])}")
        out.append(f"    frame: {s['frame']}B  # chosen")
        out.append(f"    entry_frame: {s['entry_frame']}B  # chosen")
        if "alloc_rate" in s:
            out.append(f"    alloc_rate: {s['alloc_rate'] / 1e6:.4g}MB/s  # fitted (see gc)")
        out.append("    program:")
        seen: dict = {}  # a step written before is written again as an alias of it
        for step in s["program"]:
            if "spawn" in step:
                join = ", join: true" if step.get("join") else ""
                out.append(f"      - {{spawn: {step['spawn']}, count: {_law(step['count'], 'int')}{join}}}")
                continue
            parts = [f"depth: {_law(step['depth'], 'int')}"]
            for k in ("run", "block"):
                if k in step:
                    parts.append(f"{k}: {_law(step[k], 'time')}")
            if "wait" in step:
                parts.append(f"wait: {step['wait']}")
            text = f"{{{', '.join(parts)}}}"
            if text in seen:
                out.append(f"      - *{seen[text]}")
                continue
            repeated = sum(1 for st in s["program"] if st is step or st == step) > 1
            anchor = ""
            if repeated:
                seen[text] = f"{s['name']}_{'run' if 'run' in step else 'block'}{len(seen) + 1}"
                anchor = f"&{seen[text]} "
            why = sorted({law.why for law in step.values() if isinstance(law, Law) and law.why
                          and law.kind != "constant"})
            out.append(f"      - {anchor}{text}" + (f"  # {'; '.join(why)}" if why else ""))
    return "\n".join(out) + "\n"
