"""Named builders registered with a decorator (as timm's `register_model`): a catalogue entry names its
builder, and the registry finds it, never `getattr` on a module."""
from __future__ import annotations

from collections.abc import Callable


class Registry:
    """Name -> function, filled by `@registry.register(name)` where each function is defined."""

    def __init__(self, kind: str):
        self.kind = kind  # what the functions build, for messages: "table builder", ...
        self._functions: dict[str, Callable] = {}

    def register(self, name: str) -> Callable[[Callable], Callable]:
        def add(function: Callable) -> Callable:
            if name in self._functions:
                raise ValueError(f"{self.kind} {name!r} is registered twice: "
                                 f"{self._functions[name].__qualname__} and {function.__qualname__}")
            self._functions[name] = function
            return function

        return add

    def __getitem__(self, name: str) -> Callable:
        if name not in self._functions:
            raise KeyError(f"no {self.kind} {name!r}; registered: {sorted(self._functions)}")
        return self._functions[name]

    def __contains__(self, name: str) -> bool:
        return name in self._functions

    def names(self) -> list[str]:
        return sorted(self._functions)
