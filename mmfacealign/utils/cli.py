# Copyright (c) mmfacealign contributors. All rights reserved.
"""What the command-line tools share: an error that carries its documented exit code, and the wrapper that turns
it into a message on stderr and that exit status."""
import sys
from typing import Any, Callable


class ToolError(Exception):
    """A failure of a command-line tool: the message for the user and the exit code its usage documents."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def run_tool(prog: str, fn: Callable[..., Any], *args, **kwargs) -> Any:
    """``fn(*args, **kwargs)``; a :class:`ToolError` is printed as ``prog: message`` on stderr and exits with its
    code (``SystemExit``)."""
    try:
        return fn(*args, **kwargs)
    except ToolError as e:
        print(f'{prog}: {e}', file=sys.stderr)
        sys.exit(e.code)
