"""What the tests read in a command's output."""
from __future__ import annotations


def one_line_error(result) -> str:
    """The one ``error:`` line of a CliRunner result that ended as a user error, not a traceback."""
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return lines[0]
