"""Comment and docstring lines against code lines, per module of packages/ and over all of them.

    uv run python tests/layout/prose_ratio.py   # the table; exits 1 past a limit (make lint)

A line is prose if it holds only a comment or is part of a docstring, code if it holds code; blank
lines are neither.
"""

import ast
import io
import sys
import tokenize
from pathlib import Path

PACKAGES = Path(__file__).resolve().parents[2] / "packages"
MODULE_LIMIT, MODULE_MIN_CODE, TOTAL_LIMIT = 0.5, 10, 0.2


def count(source: str) -> tuple[int, int]:
    """(prose lines, code lines) of one module."""
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    comments, code = set(), set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments.add(token.start[0])
        elif token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                                tokenize.ENDMARKER):  # fmt: skip
            code.update(range(token.start[0], token.end[0] + 1))
    code -= docstrings
    prose = docstrings | (comments - code)
    return len(prose), len(code)


def table() -> tuple[dict[str, tuple[int, int]], list[str]]:
    counts = {
        str(path.relative_to(PACKAGES)): count(path.read_text())
        for path in sorted(PACKAGES.glob("*/src/**/*.py"))
    }
    over = [
        f"{name}: {prose} prose lines for {code} code lines (at most {MODULE_LIMIT:.0%})"
        for name, (prose, code) in counts.items()
        if code >= MODULE_MIN_CODE and prose > MODULE_LIMIT * code
    ]
    prose, code = (sum(c[i] for c in counts.values()) for i in (0, 1))
    if prose > TOTAL_LIMIT * code:
        over.append(
            f"packages/: {prose} prose lines for {code} code lines (at most {TOTAL_LIMIT:.0%})"
        )
    return counts, over


if __name__ == "__main__":
    counts, over = table()
    for name, (prose, code) in counts.items():
        print(f"{prose / max(code, 1):5.2f} {prose:4d} {code:4d} {name}")
    prose, code = (sum(c[i] for c in counts.values()) for i in (0, 1))
    print(f"{prose / code:5.2f} {prose:4d} {code:4d} all")
    print("\n".join(over), file=sys.stderr)
    sys.exit(1 if over else 0)
