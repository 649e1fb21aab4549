"""Bad input to a public function, named the way the caller gave it.

The API raises `InputError` naming its parameter (``keep = 0: must lie in (0, 1]``); the command line, which calls
the API for its checks, shows the same error under the option's name (``--keep 0: must lie in (0, 1]``). A reason
that names other parameters writes them as ``{name}``, so that each side shows its own names. This module imports
nothing, so that the command line's parser can use it.
"""

from __future__ import annotations

import numbers
import re

_NAMED = re.compile(r"\{(\w+)\}")
NO_VALUE = object()  # an error about a parameter as a whole (given with another one, or missing): no value shown


class InputError(ValueError):
    """`value` of the API parameter `parameter` is not allowed, because `reason`."""

    def __init__(self, parameter: str, value, reason: str):
        self.parameter, self.value, self.reason = parameter, value, reason
        super().__init__(self.named())

    def __reduce__(self):  # unpickled from a worker process with its three parts, not the message
        return type(self), (self.parameter, self.value, self.reason)

    def named(self, option_of=None) -> str:
        """The message; with `option_of`, as the command line shows it: each parameter as its option
        `option_of(parameter)`, and the value as given there."""
        name_of = option_of or (lambda name: name)
        reason = _NAMED.sub(lambda match: name_of(match.group(1)), self.reason)
        if self.value is NO_VALUE:
            return f"{name_of(self.parameter)}: {reason}"
        return f"{name_of(self.parameter)} {_shown(self.value, option_of is not None)}: {reason}"


def _shown(value, cli: bool) -> str:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{value:g}" if cli else f"= {value:g}"
    if cli and isinstance(value, (list, tuple)):  # the command line's lists are comma-separated
        return ",".join(str(v) for v in value) or "''"
    return repr(value)
