"""Names -> entries of one kind (architectures, attribution methods), each registry the one
list of the names its config field accepts."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(dict[str, T], Generic[T]):
    """A dict of named entries that says, for an unknown name, which names exist."""

    def __init__(self, kind: str, entries: dict[str, T]):
        super().__init__(entries)
        self.kind = kind                 # "architecture", "attribution method": for messages

    def register(self, name: str, entry: T) -> None:
        """Add ``name``; a name is registered once (ValueError otherwise)."""
        if name in self:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self[name] = entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests that register a temporary entry)."""
        del self[name]

    def check(self, name: str) -> str:
        """``name`` if registered; ValueError listing the registered names otherwise."""
        if name not in self:
            raise ValueError(f"unknown {self.kind} {name!r}; allowed: {', '.join(self)}")
        return name
