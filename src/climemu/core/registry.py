"""Names -> entries of one kind (architectures, attribution methods).

Two halves, so that reading ``params.yaml`` never imports torch or Captum:

- :class:`Names`, the plain list of the names a config field accepts. It lives in the layer's
  config module (``models/config.py``, ``attribution/config.py``), which imports nothing heavy, so
  a stage that only reads params (``fetch``, ``smooth``) does not depend on the networks' code.
- :class:`Registry`, the names' entries (builders, Captum classes), looked up when an object is
  built. It is made over its :class:`Names` and checks at import that both hold the same names;
  registering an entry adds its name, so a registered architecture is accepted by the config.
"""

from __future__ import annotations

from typing import Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")


class Names:
    """The accepted names of one kind, in order; ``check`` says which exist for an unknown one."""

    def __init__(self, kind: str, names: Iterable[str]):
        self.kind = kind                 # "architecture", "attribution method": for messages
        self._names = list(names)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"Names({self.kind!r}, {self._names})"

    def add(self, name: str) -> None:
        if name in self._names:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._names.append(name)

    def remove(self, name: str) -> None:
        self._names.remove(name)

    def check(self, name: str) -> str:
        """``name`` if accepted; ValueError listing the accepted names otherwise."""
        if name not in self._names:
            raise ValueError(f"unknown {self.kind} {name!r}; allowed: {', '.join(self._names)}")
        return name


class Registry(dict[str, T], Generic[T]):
    """The entries of ``names``, one per name; registering an entry adds its name there too."""

    def __init__(self, names: Names, entries: dict[str, T]):
        if list(entries) != list(names):
            raise ValueError(f"the {names.kind} registry holds {list(entries)}, but its names list "
                             f"holds {list(names)}: add or remove the name in both")
        super().__init__(entries)
        self.names = names
        self.kind = names.kind

    def register(self, name: str, entry: T) -> None:
        """Add ``name`` (to the config's names too); a name is registered once (ValueError otherwise)."""
        self.names.add(name)
        self[name] = entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests that register a temporary entry)."""
        del self[name]
        self.names.remove(name)

    def check(self, name: str) -> str:
        """``name`` if registered; ValueError listing the registered names otherwise."""
        if name not in self:
            raise ValueError(f"unknown {self.kind} {name!r}; allowed: {', '.join(self)}")
        return name
