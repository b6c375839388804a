"""Every code block of README.md and docs/*.md runs, so the docs cannot rot.

The rules (docs/README for writers is this docstring):

- ```` ```python ````: the page's Python blocks run in order in one namespace (a later block may
  use an earlier one's names), in a temporary directory holding ``fixtures/``; every
  ``test_*`` function a block defines is called (a property with 10 examples:
  ``tests/test_docs_examples.py`` runs testing.md's properties in full). ``>>>`` blocks run as doctests.
- ```` ```sh ```` and ```` ```console ````: the ``ga-ee-bridge`` commands they show run with bash in
  that directory (``$`` marks a command in a console block; what follows it is output, and every
  line of it that holds no timing is checked). The install step of README
  (``python3 -m venv .venv && .venv/bin/pip install ... &&``) is the one already done: its
  ``.venv`` is this one. ``export NAME=...`` placeholders are skipped: EXPONEA_* point at a local
  Exponea server. A command's exit status must be 0 or 3 (some pushes rejected).
- ```` ```json ````: must parse (one value, or one value a line).
- ```` ```text ````: layouts and output, not code.
- ``<!-- not run: why -->`` on the line before a block skips it (the reason is required).
"""

from __future__ import annotations

import doctest
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from support import REPO

from ga_ee_bridge.cli import main
from ga_ee_bridge.testing import ExponeaServer

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```\n", re.S | re.M)
_NOT_RUN = re.compile(r"<!-- not run: [^>]+-->\s*$")
_INSTALL = re.compile(r"python3 -m venv \.venv && \.venv/bin/pip install [^&]*&& ")
_TIMING = re.compile(r"\d s\b|pushes/s|\d\.\d\d s")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    text: str
    skipped: bool

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    source = page.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(source):
        before = source[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        found.append(Block(page, source.count("\n", 0, match.start()) + 1, match.group(2),
                           textwrap.dedent(match.group(3)), bool(_NOT_RUN.search(before))))
    return found


ALL = [block for page in PAGES for block in blocks(page)]
PYTHON_PAGES = sorted({b.page for b in ALL if b.language == "python" and not b.skipped})
SHELL = [b for b in ALL if b.language in ("sh", "console") and not b.skipped]


def test_every_block_says_what_it_is() -> None:
    unknown = [b.name for b in ALL if b.language not in ("python", "sh", "console", "json",
                                                          "text")]
    assert unknown == [], "give these blocks a language (text for layouts and output)"
    assert len(SHELL) >= 5 and len(PYTHON_PAGES) >= 5
    skipped = [b for b in ALL if b.skipped]
    assert len(skipped) <= len(ALL) // 4, [b.name for b in skipped]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "fixtures", tmp_path / "fixtures")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    for name, dump in (("events.jsonl", "whole-page.json"), ("more.jsonl", "crawl.jsonl.gz")):
        assert main(["convert", str(REPO / "fixtures" / "dumps" / dump), "-q", "--id",
                     "registered=user.email", "-o", str(tmp_path / name)]) == 0
    return tmp_path


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=[p.name for p in PYTHON_PAGES])
def test_python_blocks_run(page: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem}"}
    for block in blocks(page):
        if block.language != "python" or block.skipped:
            continue
        if block.text.lstrip().startswith(">>>"):
            test = doctest.DocTestParser().get_doctest(block.text, namespace, block.name,
                                                       str(page), block.line)
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
            runner.run(test, out=lambda text: None, clear_globs=False)
            namespace.update(test.globs)  # later blocks see its names
            assert runner.failures == 0, f"{block.name}: a doctest example fails"
            continue
        before = set(namespace)
        exec(compile(block.text, block.name, "exec"), namespace)
        for name in sorted(set(namespace) - before):
            test = namespace[name]
            if name.startswith("test_") and callable(test):
                if hasattr(test, "hypothesis"):  # a property: a few examples are enough here
                    test = settings(max_examples=10)(test)
                test()


def _script(block: Block) -> tuple[str, list[str]]:
    """The bash script of a shell block, and the output lines it must show."""
    text = block.text.replace("\\\n", " ")
    commands, expected = [], []
    for line in text.splitlines():
        if block.language == "console":
            if line.startswith("$ "):
                commands.append(line[2:])
            elif line.strip() and not line.startswith("#") and line.strip() != "...":
                expected.append(line)
        elif line.strip() and not line.lstrip().startswith("#"):
            commands.append(line)
    script = []
    for command in commands:
        command = _INSTALL.sub("", command)
        if re.fullmatch(r"export( \w+=\.\.\.)+", command.strip()):
            continue
        if command.startswith("echo $?"):
            script.append(command)
            continue
        script.append(f"{command}\nstatus=$?; echo \"__status=$status\"; (exit $status)")
    return "\n".join(script) + "\n", expected


@pytest.mark.slow
@pytest.mark.parametrize("block", SHELL, ids=[b.name for b in SHELL])
def test_shell_blocks_run(block: Block, workdir: Path, exponea_server: ExponeaServer) -> None:
    script, expected = _script(block)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "PYTHONPATH": str(REPO),  # this checkout's code, whatever the venv points at
           "EXPONEA_PROJECT_TOKEN": exponea_server.project_token,
           "EXPONEA_API_KEY_ID": exponea_server.api_key_id,
           "EXPONEA_API_SECRET": exponea_server.api_secret,
           "EXPONEA_BASE_URL": exponea_server.url}
    env.pop("EXPONEA_PUBLIC_TOKEN", None)
    # Blocks of one page share the directory: a later block uses what an earlier one wrote.
    for earlier in [b for b in SHELL if b.page == block.page and b.line < block.line]:
        subprocess.run(["bash", "-c", _script(earlier)[0]], cwd=workdir, env=env,
                       capture_output=True, timeout=120, check=False)
    done = subprocess.run(["bash", "-c", script], cwd=workdir, env=env, capture_output=True,
                          timeout=120, check=False)
    shown = done.stdout.decode() + done.stderr.decode()
    assert "Traceback" not in shown and "command not found" not in shown, shown
    statuses = [int(s) for s in re.findall(r"^__status=(\d+)$", shown, re.M)]
    assert statuses and all(s in (0, 3) for s in statuses), shown
    for line in expected:
        if not _TIMING.search(line):
            assert line in shown, f"{block.name}: {line!r} not shown:\n{shown}"


@pytest.mark.parametrize("block", [b for b in ALL if b.language == "json"],
                         ids=[b.name for b in ALL if b.language == "json"])
def test_json_blocks_parse(block: Block) -> None:
    try:
        json.loads(block.text)
    except ValueError:
        for line in block.text.splitlines():
            json.loads(line)


def test_the_fixtures_readme_names_only_what_is_there() -> None:
    root = REPO / "fixtures"
    text = (root / "README.md").read_text(encoding="utf-8")
    for pattern in re.findall(r"([a-z0-9-]+/)(\*\.json)\b", text):
        assert list(root.glob(f"**/{pattern[0]}{pattern[1]}")), pattern
    for name in re.findall(r"\b[\w-]+\.md\b", text):
        assert list(REPO.glob(f"**/{name}")), f"fixtures/README.md names {name}: not here"
    rows = re.findall(r"^\| ([a-z0-9]+-[a-z0-9-]+(?: / [a-z0-9-]+)*) \|", text, re.M)
    assert len(rows) > 20
    for row in rows:
        for one in row.split(" / "):
            assert list(root.glob(f"*/{one}.json")), f"fixtures/README.md names {one}.json"


def test_the_runner_reads_commands_and_their_output() -> None:
    block = Block(REPO / "docs" / "x.md", 1, "console",
                  "# a comment\n$ ga-ee-bridge convert a.json \\\n    -q\nread 3 pushes\n...\n"
                  "ga-ee-bridge: 0.01 s, 2,650 pushes/s\n$ echo $?\n3\n", False)
    script, expected = _script(block)
    assert script.splitlines()[0] == "ga-ee-bridge convert a.json      -q"
    assert "echo $?" in script.splitlines() and "(exit $status)" in script
    assert expected == ["read 3 pushes", "ga-ee-bridge: 0.01 s, 2,650 pushes/s", "3"]
    assert _TIMING.search(expected[1]) and not _TIMING.search(expected[0])
    install = Block(REPO / "README.md", 1, "sh", "python3 -m venv .venv && .venv/bin/pip install "
                    "-q -e . && .venv/bin/ga-ee-bridge --version\nexport A=... B=...\n", False)
    assert _script(install)[0].splitlines()[0] == ".venv/bin/ga-ee-bridge --version"
    assert "export" not in _script(install)[0]
