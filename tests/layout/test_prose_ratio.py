"""The prose-ratio count that `make lint` runs: what it counts as prose and as code."""

from tests.layout.prose_ratio import count

SOURCE = '''"""A module docstring
over two lines."""

import os  # a trailing comment is code's

# a comment line


def f():
    """One docstring line."""
    return os.sep
'''


def test_docstrings_and_comment_lines_are_prose_code_lines_are_code():
    assert count(SOURCE) == (4, 3)


def test_a_string_that_is_not_a_docstring_is_code():
    assert count('x = 1\ny = """not\nprose"""\n') == (0, 3)
