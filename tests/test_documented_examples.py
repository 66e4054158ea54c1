"""Every example a user may copy works: the command lines in README.md and docs/ name real
commands and options, the `--set` values in them and in `--help` texts and docstrings
pass the scenario loader, and the Python snippets' settings are valid (issue #19)."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

import simstack.sweep
from simstack.cli import main
from simstack.sweep.params import expand, parse_set

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCK = re.compile(r"```(?:sh|console|bash)\n(.*?)```", re.S)


def command_lines():
    """(file, command) for each `simstack ...` line of the shell blocks, continuations joined."""
    out = []
    for doc in DOCS:
        for block in SHELL_BLOCK.findall(doc.read_text()):
            text = re.sub(r"\\\n\s*", " ", block)
            for line in text.splitlines():
                for part in line.split("&&"):
                    part = part.split(" #", 1)[0].split(">", 1)[0].strip()
                    if part.startswith(("simstack ", "python -m simstack ")) and "[--" not in part:  # not a synopsis
                        out.append((doc.name, part))
    return out


COMMANDS = command_lines()


def test_the_docs_have_command_examples():
    assert len(COMMANDS) >= 18


@pytest.mark.parametrize("doc, line", COMMANDS, ids=[f"{d}:{c[:60]}" for d, c in COMMANDS])
def test_documented_command_parses(doc, line):
    args = shlex.split(line)
    args = args[3:] if args[0] == "python" else args[1:]
    # options are parsed before the eager --help runs: an unknown option or a missing value fails
    r = CliRunner().invoke(main, [*args, "--help"], prog_name="simstack")
    assert r.exit_code == 0 and r.output.startswith(f"Usage: simstack {args[0]}"), r.output
    sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    scen = next((a for a in args if a.endswith(".yaml") and (ROOT / a).is_file()), None)
    if sets and scen:
        grid = dict(parse_set(s) for s in sets)
        from simstack.scenario import load_scenario
        expand(load_scenario(ROOT / scen).to_yaml_dict(), grid=grid)  # ScenarioError if a value is refused


def _help(*cmd):
    return CliRunner().invoke(main, [*cmd, "--help"], terminal_width=200, prog_name="simstack").output


@pytest.mark.parametrize("cmd", ["run", "sweep"])
def test_set_examples_in_help_texts_are_accepted(cmd):
    text = re.sub(r"\s+", " ", _help(cmd))
    options = re.findall(r"--set ([a-z][\w.\[\]]*=\S+?)[.,]?(?= |$)", text)  # examples, not KEY=VALUE
    options = [o for o in options if not re.fullmatch(r"[A-Z]+\)?", o.split("=", 1)[1])]  # placeholders (seed=N)
    assert options, text
    from simstack.scenario import load_scenario
    base = load_scenario(ROOT / "scenarios" / "http-server.yaml").to_yaml_dict()
    for opt in options:
        expand(base, grid=dict([parse_set(opt)]))


def test_grids_in_docstrings_are_accepted():
    from simstack.scenario import load_scenario
    from simstack.sweep.runner import run_sweep
    base = load_scenario(ROOT / "scenarios" / "http-server.yaml").to_yaml_dict()
    found = 0
    for doc in (simstack.sweep.__doc__, run_sweep.__doc__, Path(simstack.sweep.params.__file__).read_text()):
        for key, values in re.findall(r'"([\w.\[\]]+)":\s*\[([^\]]*)\]', doc or ""):
            vals = [v.strip().strip("\"'") for v in values.split(",")]
            expand(base, grid={key: vals})
            found += 1
    assert found >= 2


def test_python_snippets_settings_are_valid():
    """`with_settings(..., {...})` and `points={...}` examples in the docs."""
    from simstack.sweep import with_settings
    n = 0
    for doc in DOCS:
        for path, settings in re.findall(r'with_settings\("([^"]+)",\s*(\{[^}]*\})\)', doc.read_text()):
            with_settings(ROOT / path, eval(settings))  # noqa: S307  (our own docs)
            n += 1
    assert n >= 1


def test_the_parse_check_catches_an_unknown_option():
    r = CliRunner().invoke(main, ["sweep", "x.yaml", "--replicatons", "2", "--help"])
    assert r.exit_code == 2 and "No such option" in r.output


YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def test_the_tutorial_scenario_loads_and_runs(tmp_path):
    from simstack.scenario import parse_scenario
    blocks = [b for b in YAML_BLOCK.findall((ROOT / "docs" / "model-your-own-service.md").read_text())
              if "goroutines:" in b]
    assert blocks
    from simstack.sweep import with_settings
    for text in blocks:
        sc = parse_scenario(text)
        small = with_settings(sc, {"duration": "200ms", "checkpoints": [], "goroutines[0].count": 300})
        res = simstack.run(small)
        assert res.complete and res.summary["headline"]["grows"] > 0


def test_the_vendored_scenario_format_is_the_shared_spec():
    shared = ROOT.parent / "shared" / "spec" / "scenario-format.md"
    for candidate in (shared, Path("/work/shared/spec/scenario-format.md")):
        if candidate.is_file():
            break
    else:
        pytest.skip("the shared spec is not on this machine")
    vendored = (ROOT / "docs" / "scenario-format.md").read_text()
    body = vendored[vendored.index("# Scenario format v1"):]
    assert body == candidate.read_text()
