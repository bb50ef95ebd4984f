"""Every `make <target>` the Markdown docs tell a reader to run names a target the Makefile has."""

import re
import subprocess

import pytest
from argo_model import ROOT

DOCS = [
    "README.md",
    "workflows/README.md",
    "deploy/README.md",
    "bench/README.md",
    "tests/README.md",
]

# Code in Markdown: fenced blocks, then inline spans; prose is not a command.
FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
INLINE = re.compile(r"`([^`\n]+)`")
# `make` as a command word, then its words up to a shell separator or a comment.
MAKE = re.compile(r"(?:^|[\s(;&|])make((?:[ \t]+[^\s|;&#)`]+)*)")
TARGET = re.compile(r"[A-Za-z0-9][\w.-]*")
COMMENT = re.compile(r"(?:^|\s)#.*$", re.M)


def make_commands(text: str) -> list[str]:
    code = FENCED.findall(text)
    prose = FENCED.sub("", text)
    code += INLINE.findall(prose)
    code = [COMMENT.sub("", block) for block in code]
    return [m.group(0).strip(" \t\n(;&|") for block in code for m in MAKE.finditer(block)]


def targets_named(command: str) -> list[str]:
    """The targets of one `make ...` line: its words that are not options or VAR=value."""
    words = command.split()[1:]
    targets, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in ("-C", "-f", "-j", "-o", "-W"):
            skip = True
        elif not word.startswith("-") and "=" not in word and TARGET.fullmatch(word):
            targets.append(word)
    return targets


def makefile_targets() -> set[str]:
    """The targets in make's own database (`make -pRrq`): variables in rule lines expanded, as
    make reads them, so targets built with $(addprefix ...) count."""
    database = subprocess.run(
        ["make", "-pRrq", "-f", "Makefile", ":"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    rules = re.findall(r"^([A-Za-z0-9][^$#/\t=:]*):(?:[^=]|$)", database, re.M)
    return {name for line in rules for name in line.split()}


def test_the_parser_finds_commands_in_code_only():
    text = (
        "make the docs\n`make a B=1 b` and\n"
        "```shell\nx=$(make -s c) && make -C dir d # make e\n```\n"
    )
    found = [t for c in make_commands(text) for t in targets_named(c)]
    assert found == ["c", "d", "a", "b"]


@pytest.mark.parametrize("doc", DOCS)
def test_every_make_target_in_the_docs_exists(doc):
    targets = makefile_targets()
    assert {"test", "images", "cluster-data"} <= targets, "make's database was not read"
    commands = make_commands((ROOT / doc).read_text())
    assert commands, f"no `make` command found in {doc}: the parser no longer finds them"
    missing = sorted(
        {f"{t} (in `{c}`)" for c in commands for t in targets_named(c) if t not in targets}
    )
    assert not missing, f"{doc} names targets the Makefile does not have: {missing}"
