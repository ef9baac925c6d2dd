"""The building blocks of the typed, strict configuration read from ``params.yaml``.

Every section model forbids unknown keys and checks its values on construction, so a typo or an
impossible value stops a stage before any work starts, with a message that names the key.
Each layer defines its own sections (``data/config.py``, ``models/config.py``, ...);
:mod:`climemu.config` assembles them into the whole file.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ConfigError(ValueError):
    """A parameter is missing, unknown or out of range; the message names the key."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Box(Strict):
    """A latitude-longitude box in degrees (longitudes in -180..360; a box may cross 0 E)."""

    lat_min: float = Field(ge=-90, le=90)
    lat_max: float = Field(ge=-90, le=90)
    lon_min: float = Field(ge=-180, le=360)
    lon_max: float = Field(ge=-180, le=360)

    @model_validator(mode="after")
    def _ordered(self) -> "Box":
        if self.lat_min >= self.lat_max:
            raise ValueError(f"lat_min ({self.lat_min}) must be below lat_max ({self.lat_max})")
        if self.lon_min >= self.lon_max:
            raise ValueError(f"lon_min ({self.lon_min}) must be below lon_max ({self.lon_max})")
        return self

    def contains(self, other: "Box") -> bool:
        return (self.lat_min <= other.lat_min and other.lat_max <= self.lat_max
                and self.lon_min <= other.lon_min and other.lon_max <= self.lon_max)


def _describe(error: ValidationError, source: str, prefix: tuple[str, ...] = ()) -> str:
    """One line per problem, each naming its key (below ``prefix`` when a section was validated alone)."""
    lines = [f"invalid parameters in {source}:"]
    for e in error.errors():
        key = ".".join(str(p) for p in (*prefix, *e["loc"])) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        quiet = e["type"] in ("extra_forbidden", "missing") or isinstance(e.get("input"), dict)
        got = "" if quiet else f" (got {e.get('input')!r})"
        lines.append(f"  {key}: {msg}{got}")
    return "\n".join(lines)
