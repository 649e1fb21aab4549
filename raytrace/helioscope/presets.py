"""The IAXO family as presets: BabyIAXO, IAXO and IAXO+ (the TOML files in `presets/`, each citing its sources and
stating its choices): the magnet, the detector, the data-taking schedule and the optic of each bore, which
`raytrace.sensitivity(preset=...)` traces.

A preset file holds name, description, optics (one optic for every bore, or one per bore: shipped names or paths),
vacuum_years, gas_years, tracking, max_gas_mass_ev, a [magnet] table (the keys of a magnet file) and a [detector]
table (the keys of a detector file).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources

from .detector import Detector, DetectorError, detector_from_dict
from .merit import Magnet, magnet_from_dict

PRESETS = ("babyiaxo", "iaxo", "iaxoplus")
KEYS = (
    "name",
    "description",
    "optics",
    "vacuum_years",
    "gas_years",
    "tracking",
    "max_gas_mass_ev",
    "magnet",
    "detector",
)


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    optics: tuple[str, ...]
    magnet: Magnet
    detector: Detector
    vacuum_years: float
    gas_years: float
    tracking: float
    max_gas_mass_ev: float


def load_preset(name: str) -> Preset:
    """A shipped preset by name (PRESETS)."""
    if name not in PRESETS:
        raise ValueError(f"preset {name!r}: choose from {', '.join(PRESETS)}")
    text = (resources.files("raytrace.helioscope") / "presets" / f"{name}.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    where = f"preset {name}"
    unknown = [key for key in data if key not in KEYS]
    missing = [key for key in KEYS if key not in data]
    if unknown or missing:
        raise ValueError(f"{where}: " + (f"unknown field {unknown[0]!r}" if unknown else f"missing {missing[0]!r}"))
    optics = data["optics"]
    if not (isinstance(optics, list) and optics and all(isinstance(o, str) for o in optics)):
        raise ValueError(f"{where}: optics must be a list of optic names or paths")
    numbers = {}
    for key in ("vacuum_years", "gas_years", "tracking", "max_gas_mass_ev"):
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{where}: {key} = {value!r}: must be a number >= 0")
        numbers[key] = float(value)
    try:
        detector = detector_from_dict(data["detector"])
    except DetectorError as exc:
        raise ValueError(f"{where}: detector: {exc}") from None
    return Preset(
        str(data["name"]),
        str(data["description"]),
        tuple(optics),
        magnet_from_dict(data["magnet"], f"{where}: magnet"),
        detector,
        **numbers,
    )
