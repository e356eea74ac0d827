# Copyright 2026 llm_planner developers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""
The semantic map: named places with a pose and aliases.

Loaded from YAML (``config/locations.yaml``)::

    locations:
      kitchen: {frame: map, x: 3.0, y: 1.0, yaw: 0.0, aliases: [cuisine]}
"""

from dataclasses import dataclass
import math
import re

from llm_planner.core.geometry import Pose
from llm_planner.core.names import drop_article, fold_accents, underscore_blanks
from llm_planner.core.yaml_file import load_yaml_as  # noqa: F401 - catalog.py imports it here

PLACE_NAME_RE = re.compile(r'^[a-z][a-z0-9_]{0,39}$')


class MapError(ValueError):
    """The map file is not a valid semantic map."""


def normalize_place_name(name):
    """Fold case, accents, spaces, hyphens and a leading article so names compare loosely."""
    return underscore_blanks(drop_article(fold_accents(name)))


@dataclass(frozen=True)
class Place:
    """A named pose on the map (also the loopback robot's world's places)."""

    name: str
    pose: Pose
    aliases: tuple = ()

    @property
    def frame(self):
        """Return the frame of the place's pose."""
        return self.pose.frame

    @property
    def x(self):
        """Return the x of the place's pose, metres."""
        return self.pose.x

    @property
    def y(self):
        """Return the y of the place's pose, metres."""
        return self.pose.y

    @property
    def yaw(self):
        """Return the yaw of the place's pose, radians."""
        return self.pose.yaw


class SemanticMap:
    """Named places the robot can go to; the only places a plan may name."""

    def __init__(self, places):
        self._places = {}
        self._index = {}
        for place in places:
            for key in (place.name,) + tuple(place.aliases):
                norm = normalize_place_name(key)
                if norm in self._index:
                    raise MapError(f'place name or alias {key!r} used twice')
                self._index[norm] = place
            self._places[place.name] = place

    @classmethod
    def from_dict(cls, data):
        """Build a map from the parsed YAML document."""
        if not isinstance(data, dict) or not isinstance(data.get('locations'), dict):
            raise MapError("expected a mapping with a 'locations' mapping")
        places = []
        for name, entry in data['locations'].items():
            if not isinstance(name, str) or not PLACE_NAME_RE.match(name):
                raise MapError(f'place name {name!r} must be lower_snake_case')
            if not isinstance(entry, dict):
                raise MapError(f'place {name}: expected a mapping')
            try:
                x, y = float(entry['x']), float(entry['y'])
                yaw = float(entry.get('yaw', 0.0))
            except (KeyError, TypeError, ValueError) as e:
                raise MapError(f'place {name}: x and y (and yaw) must be numbers') from e
            if not all(math.isfinite(v) for v in (x, y, yaw)):
                raise MapError(f'place {name}: pose must be finite')
            aliases = entry.get('aliases') or []
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                raise MapError(f'place {name}: aliases must be a list of strings')
            frame = str(entry.get('frame', 'map'))
            places.append(Place(name, Pose(frame, x, y, yaw), tuple(aliases)))
        return cls(places)

    @classmethod
    def load(cls, path):
        """Load a map from a YAML file."""
        return load_yaml_as(path, cls.from_dict, MapError, 'semantic map')

    def resolve(self, name):
        """Return the place called ``name`` (or one of its aliases), or None."""
        return self._index.get(normalize_place_name(name))

    @property
    def names(self):
        """Canonical place names, in file order."""
        return list(self._places)

    def not_on_map(self, name):
        """Return the UNKNOWN_LOCATION message for a place ``name`` the map lacks."""
        return f'{name!r} is not on the semantic map; known places: {", ".join(self.names)}'

    @property
    def places(self):
        """All places, in file order."""
        return list(self._places.values())

    def __len__(self):
        return len(self._places)
