"""Every command shown in the README's "Using it" section runs and exits 0.

The section (from its ``## Using it`` heading to the next ``## `` heading) is parsed, not
copied, so the test follows the README as it changes:

- ``bash`` blocks: one command per line; ``# ...`` ends it (a comment).
  ``[--flag]`` is optional: the command runs without it and with it; an optional
  ``[PLACEHOLDER]`` (capital letters) is left out. ``a | b | c`` after a ``replearn``
  sub-command lists alternatives (``replearn data list | verify`` runs both).
  Lines are run in order, in one temporary folder, so a later line sees the run folders
  of the earlier ones.
- ``python`` blocks run as scripts in that folder.

Made fast, and said so in the test id (``[tiny]``): ``replearn run`` without ``--preset``
gets ``--preset tiny`` (with the tiny preset's ``engine.max_steps`` when the line raises
it), ``replearn claims`` gets ``--quick``, ``torchrun`` runs its command the same way.
Skipped, with the reason: a line whose comment says "long"; ``--device cuda`` without a
GPU; ``torchrun`` in the default suite (it is marked slow); a line naming a file data set
(``fashion-mnist``) whose files are absent. A ``--resume`` or ``report`` of a run folder
no earlier line made first makes it (the README's reader would have one).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from replearn.cli import main

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def using_it_section(text: str) -> str:
    """The README text from ``## Using it`` to the next level-2 heading."""
    match = re.search(r"^## Using it\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, "README.md has no '## Using it' section"
    return match.group(1)


def blocks(section: str) -> list[tuple[str, str]]:
    """``(language, code)`` of every fenced block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", section, re.M | re.S)


def _alternatives(line: str) -> list[str]:
    parts = [p.strip() for p in line.split(" | ")]
    if len(parts) == 1 or not parts[0].startswith("replearn "):
        return [line]
    words = parts[0].split()
    prefix = " ".join(words[:-1])
    return [parts[0]] + [p if p.startswith("replearn ") else f"{prefix} {p}" for p in parts[1:]]


def _optional(line: str) -> list[str]:
    """Without every ``[...]``; and with the flag ones (``[--quick]``) filled in."""
    bare = re.sub(r"\s*\[[^\]]*\]", "", line)
    if not re.search(r"\[\s*-", line):
        return [bare]
    flags = re.sub(r"\[\s*(-[^\]]*)\]", r"\1", line)
    return [bare, re.sub(r"\s*\[[^\]]*\]", "", flags)]


def commands(text: str) -> list[tuple[str, str]]:
    """``(kind, command)``: kind is ``"sh"`` or ``"python"``, in README order, de-duplicated."""
    out: list[tuple[str, str]] = []
    for lang, code in blocks(using_it_section(text)):
        if lang == "python":
            out.append(("python", code))
            continue
        if lang not in ("bash", "sh", "shell", "console", ""):
            continue
        for raw in code.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            command, _, comment = line.partition(" #")
            for alt in _alternatives(command.strip()):
                for variant in _optional(alt):
                    item = ("sh", f"{variant}  #{comment}" if comment else variant)
                    if item not in out:
                        out.append(item)
    return out


def fast(argv: list[str]) -> tuple[list[str], bool]:
    """The command made fast (see the module docstring) and whether it changed."""
    if argv[:1] != ["replearn"] or len(argv) < 2:
        return argv, False
    if argv[1] == "claims" and "--quick" not in argv:
        return [*argv, "--quick"], True
    if argv[1] != "run" or "--preset" in argv:
        return argv, False
    from replearn.experiments.base import get_experiment

    argv = [*argv, "--preset", "tiny"]
    sets = [a for a in argv if a.startswith("engine.max_steps=")]
    if sets:
        tiny = get_experiment(argv[2]).make_config("tiny")
        steps = getattr(getattr(tiny, "engine", None), "max_steps", None)
        if steps is not None:
            argv = [a if a not in sets else f"engine.max_steps={steps}" for a in argv]
    return argv, True


def _missing_data(argv: list[str]) -> str | None:
    from replearn.data import sources

    for name in sources.DATASETS:
        if any(name in a for a in argv) and not all(ok for _, ok, _ in sources.verify(name)):
            return f"needs the {name} files (absent here)"
    return None


def _out_dir(argv: list[str]) -> str | None:
    if argv[1:2] == ["report"] and len(argv) > 2:
        return argv[2]
    if "--resume" in argv and "--out" in argv:
        return argv[argv.index("--out") + 1]
    return None


def _cases() -> list:
    """One case per command, in README order; ids say ``[tiny]``/``[quick]`` when made fast."""
    cases, seen = [], set()
    for kind, cmd in commands(README.read_text(encoding="utf-8")):
        if kind == "python":
            first = cmd.strip().splitlines()[0][:60]
            cases.append(pytest.param(kind, cmd, id=f"{len(cases):02d} python: {first}"))
            continue
        argv = shlex.split(cmd.partition("  #")[0])
        start = argv.index("replearn") if "replearn" in argv else 0
        made, changed = fast(argv[start:])
        key = " ".join([*argv[:start], *made])
        if key in seen:
            continue  # the same command once made fast
        seen.add(key)
        tag = {"run": " [tiny]", "claims": " [quick]"}.get(made[1], "") if changed else ""
        marks = [pytest.mark.slow] if argv[0] == "torchrun" else []
        cases.append(pytest.param(kind, cmd, id=f"{len(cases):02d} {cmd}{tag}", marks=marks))
    return cases


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readme")


def _run_sh(cmd: str, cwd: Path) -> None:
    command, _, comment = cmd.partition("  #")
    if re.search(r"\blong\b", comment, re.I):
        pytest.skip("marked long in the README")
    argv = shlex.split(command)
    cuda = "--device" in argv and argv[argv.index("--device") + 1] == "cuda"
    if cuda and not torch.cuda.is_available():
        pytest.skip("needs a GPU")
    torchrun = argv[0] == "torchrun"
    inner = argv[argv.index("replearn") :] if torchrun else argv
    if inner[:1] != ["replearn"]:
        pytest.fail(f"the README shows a command this test cannot run: {command}")
    reason = _missing_data(inner)
    if reason:
        pytest.skip(reason)
    inner, _ = fast(inner)
    folder = _out_dir(inner)
    if folder and not (cwd / folder / "config.json").is_file():
        setup = ["run", "mlp", "--preset", "tiny", "--no-progress", "--out", folder]
        if inner[1] == "run":
            setup = [a for a in inner[1:] if a != "--resume"]
        assert main(setup) == 0, f"could not make {folder} for: {command}"
    if torchrun:
        argv = [*argv[: argv.index("replearn")], *inner[1:]]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return
    try:
        code = main(inner[1:])
    except SystemExit as exit_:  # argparse
        code = exit_.code
    assert code == 0, f"{' '.join(inner)} exited {code}"


@pytest.mark.parametrize(("kind", "cmd"), _cases())
def test_readme_command_exits_0(kind: str, cmd: str, workdir: Path, monkeypatch) -> None:
    monkeypatch.chdir(workdir)
    if kind == "python":
        script = workdir / "readme_example.py"
        script.write_text(cmd, encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, str(script)], cwd=workdir, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return
    _run_sh(cmd, workdir)


def test_the_parser_reads_usage_forms() -> None:
    text = """## Using it

```bash
replearn list [TOPIC] [--markdown]   # all
replearn data list | verify | path fashion-mnist
replearn claims all    # long: 20 minutes
```

```python
print("library use")
```

## Next
```bash
replearn never
```
"""
    assert commands(text) == [
        ("sh", "replearn list  # all"),
        ("sh", "replearn list --markdown  # all"),
        ("sh", "replearn data list"),
        ("sh", "replearn data verify"),
        ("sh", "replearn data path fashion-mnist"),
        ("sh", "replearn claims all  # long: 20 minutes"),
        ("python", 'print("library use")\n'),
    ]
    assert fast(["replearn", "run", "mlp"]) == (
        ["replearn", "run", "mlp", "--preset", "tiny"],
        True,
    )
    assert fast(["replearn", "claims", "x"]) == (["replearn", "claims", "x", "--quick"], True)
