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
The simulated robot's world: start pose, speed, places, objects and failures.

Plain Python (no ROS), so the parsing is unit-testable; ``sim_robot`` builds
its action servers and pose topic on top of it.

World YAML (``config/sim_world.yaml``); every key is optional, unknown keys
are errors::

    frame: map                  # the one frame of the world (there is no TF)
    robot:
      x: 0.0                    # start pose (metres, radians); frame: map allowed
      y: 0.0
      yaw: 0.0
      speed: 1.0                # m/s, straight-line motion
      search_radius: 1.5        # objects within this of the robot are seen (.inf: anywhere)
      grab_tolerance: 0.5       # an object within this of the grab's `where` is grabbed
      arm_reach: 1.5            # `where` must be within this of the robot (.inf: anywhere)
      search_seconds: 0.5       # time a search takes
      grab_seconds: 0.5         # time a grab takes
    places:                     # same format as config/locations.yaml (`locations:` also read)
      kitchen: {frame: map, x: 3.0, y: 1.0, yaw: 0.0, aliases: [cuisine]}
    objects:                    # name -> a place name, or a pose, or a place plus offset
      banana: kitchen
      cup: {x: 0.2, y: 0.1, yaw: 0.0}
      apple: {place: kitchen, dx: 0.2, dy: -0.1}
    failures: []                # failure specs (llm_planner.sim.failures)

The failure specs (the ``failures`` list and the node's ``fail`` parameter)
are parsed by :mod:`llm_planner.sim.failures`, which documents their syntax.
"""

from dataclasses import dataclass, field
import math
import os

from llm_planner.core.geometry import Pose
from llm_planner.core.semantic_map import Place
from llm_planner.core.yaml_file import read_yaml, YamlFileError
from llm_planner.sim.failures import (  # noqa: F401 - the world's names, re-exported
    apply_failure, DIE_EXIT_CODE, Failures, normalize_name, parse_failures, SERVERS,
    WorldError)

DEFAULT_FRAME = 'map'

_ROBOT_DEFAULTS = {
    'speed': 1.0,
    'search_radius': 1.5,
    'grab_tolerance': 0.5,
    'arm_reach': 1.5,
    'search_seconds': 0.5,
    'grab_seconds': 0.5,
}
_TOP_KEYS = {'frame', 'robot', 'places', 'locations', 'objects', 'failures'}
_POSE_KEYS = {'frame', 'x', 'y', 'yaw'}
_PLACE_KEYS = _POSE_KEYS | {'aliases'}
_OBJECT_PLACE_KEYS = {'place', 'dx', 'dy', 'yaw'}


def pose_text(pose):
    """Format a pose as the loopback robot's log lines and messages do."""
    return f'({pose.x:.2f}, {pose.y:.2f}, {pose.yaw:.2f}) in {pose.frame}'


@dataclass
class World:
    """Everything ``sim_robot`` simulates."""

    frame: str = DEFAULT_FRAME
    robot: Pose = Pose(DEFAULT_FRAME, 0.0, 0.0, 0.0)
    speed: float = _ROBOT_DEFAULTS['speed']
    search_radius: float = _ROBOT_DEFAULTS['search_radius']
    grab_tolerance: float = _ROBOT_DEFAULTS['grab_tolerance']
    arm_reach: float = _ROBOT_DEFAULTS['arm_reach']
    search_seconds: float = _ROBOT_DEFAULTS['search_seconds']
    grab_seconds: float = _ROBOT_DEFAULTS['grab_seconds']
    places: dict = field(default_factory=dict)
    objects: dict = field(default_factory=dict)
    failures: Failures = field(default_factory=Failures)

    def place(self, name):
        """Return the ``Place`` called ``name`` or one of its aliases, or None."""
        key = normalize_name(name)
        for place in self.places.values():
            if key == place.name or key in place.aliases:
                return place
        return None

    def present_objects(self):
        """Return ``{name: Pose}`` of the objects in the world (absent ones left out)."""
        return {
            name: pose for name, pose in self.objects.items()
            if name not in self.failures.absent_objects}

    def find_object(self, name, robot_pose, radius=None):
        """
        Return the pose of object ``name`` if it is within ``radius`` of the robot, else None.

        ``radius`` defaults to ``search_radius``; ``math.inf`` finds it anywhere.
        """
        radius = self.search_radius if radius is None else radius
        pose = self.present_objects().get(normalize_name(name))
        if pose is None or pose.distance_to(robot_pose) > radius:
            return None
        return pose

    def object_near(self, where, name='', tolerance=None):
        """
        Return ``(name, pose)`` of the object closest to ``where`` within ``tolerance``.

        Only objects called ``name`` count when ``name`` is not empty; returns
        None when nothing is close enough. ``tolerance`` defaults to
        ``grab_tolerance``.
        """
        tolerance = self.grab_tolerance if tolerance is None else tolerance
        wanted = normalize_name(name) if name and name.strip() else None
        best = None
        for object_name, pose in sorted(self.present_objects().items()):
            if wanted is not None and object_name != wanted:
                continue
            distance = pose.distance_to(where)
            if distance <= tolerance and (best is None or distance < best[0]):
                best = (distance, object_name, pose)
        return None if best is None else (best[1], best[2])


def _mapping(value, what):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WorldError(f'{what} must be a mapping, got {type(value).__name__}')
    return value


def _check_keys(mapping, allowed, what):
    unknown = sorted(str(key) for key in set(mapping) - set(allowed))
    if unknown:
        raise WorldError(
            f'{what}: unknown key(s) {", ".join(unknown)} (allowed: '
            + ', '.join(sorted(allowed)) + ')')


def _float(mapping, key, what, default=None, minimum=None, allow_inf=False):
    value = mapping.get(key, default)
    if value is None:
        raise WorldError(f'{what}: {key} is required')
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WorldError(f'{what}: {key} must be a number, got {value!r}')
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise WorldError(f'{what}: {key} must be finite, got {value!r}')
    if minimum is not None and value < minimum:
        raise WorldError(f'{what}: {key} must be >= {minimum:g}, got {value:g}')
    return value


def _frame(mapping, world_frame, what):
    frame = mapping.get('frame', world_frame)
    if not isinstance(frame, str) or frame.strip() != world_frame:
        raise WorldError(
            f'{what}: frame {frame!r} is not the world frame {world_frame!r} '
            '(the simulation has one frame and no TF)')
    return world_frame


def _pose(mapping, world_frame, what, require_xy=True):
    default = None if require_xy else 0.0
    return Pose(
        frame=_frame(mapping, world_frame, what),
        x=_float(mapping, 'x', what, default),
        y=_float(mapping, 'y', what, default),
        yaw=_float(mapping, 'yaw', what, 0.0))


def _places(data, frame):
    places = {}
    taken = {}
    for key in ('places', 'locations'):
        for raw_name, spec in _mapping(data.get(key), key).items():
            name = normalize_name(raw_name)
            what = f'{key}.{raw_name}'
            spec = _mapping(spec, what)
            _check_keys(spec, _PLACE_KEYS, what)
            aliases = spec.get('aliases', []) or []
            if not isinstance(aliases, list):
                raise WorldError(f'{what}: aliases must be a list of names')
            aliases = tuple(normalize_name(alias) for alias in aliases)
            for label in (name,) + aliases:
                if not label:
                    raise WorldError(f'{what}: empty place name or alias')
                if label in taken:
                    raise WorldError(f'{what}: name {label!r} is already used by {taken[label]}')
                taken[label] = what
            places[name] = Place(name, _pose(spec, frame, what), aliases)
    return places


def _objects(data, world):
    objects = {}
    for raw_name, spec in _mapping(data.get('objects'), 'objects').items():
        name = normalize_name(raw_name)
        what = f'objects.{raw_name}'
        if not name:
            raise WorldError(f'{what}: empty object name')
        if name in objects:
            raise WorldError(f'{what}: object {name!r} is listed twice')
        if isinstance(spec, str):
            spec = {'place': spec}
        spec = _mapping(spec, what)
        if 'place' in spec:
            _check_keys(spec, _OBJECT_PLACE_KEYS, what)
            place = world.place(str(spec['place']))
            if place is None:
                raise WorldError(
                    f'{what}: unknown place {spec["place"]!r} (known: '
                    + ', '.join(sorted(world.places)) + ')')
            objects[name] = Pose(
                frame=place.pose.frame,
                x=place.pose.x + _float(spec, 'dx', what, 0.0),
                y=place.pose.y + _float(spec, 'dy', what, 0.0),
                yaw=_float(spec, 'yaw', what, place.pose.yaw))
        else:
            _check_keys(spec, _POSE_KEYS, what)
            objects[name] = _pose(spec, world.frame, what)
    return objects


def world_from_dict(data, base=None):
    """Build a ``World`` from parsed YAML ``data`` (a mapping; None gives the defaults)."""
    data = _mapping(data, 'the world file')
    _check_keys(data, _TOP_KEYS, 'the world file')
    frame = data.get('frame', DEFAULT_FRAME)
    if not isinstance(frame, str) or not frame.strip():
        raise WorldError(f'frame must be a non-empty string, got {frame!r}')
    frame = frame.strip()
    robot = _mapping(data.get('robot'), 'robot')
    _check_keys(robot, _POSE_KEYS | set(_ROBOT_DEFAULTS), 'robot')
    world = World(
        frame=frame,
        robot=_pose(robot, frame, 'robot', require_xy=False),
        speed=_float(robot, 'speed', 'robot', _ROBOT_DEFAULTS['speed']),
        search_radius=_float(
            robot, 'search_radius', 'robot', _ROBOT_DEFAULTS['search_radius'], 0.0, True),
        grab_tolerance=_float(
            robot, 'grab_tolerance', 'robot', _ROBOT_DEFAULTS['grab_tolerance'], 0.0, True),
        arm_reach=_float(robot, 'arm_reach', 'robot', _ROBOT_DEFAULTS['arm_reach'], 0.0, True),
        search_seconds=_float(
            robot, 'search_seconds', 'robot', _ROBOT_DEFAULTS['search_seconds'], 0.0),
        grab_seconds=_float(
            robot, 'grab_seconds', 'robot', _ROBOT_DEFAULTS['grab_seconds'], 0.0))
    if world.speed <= 0.0:
        raise WorldError(f'robot: speed must be > 0, got {world.speed:g}')
    world.places = _places(data, frame)
    world.objects = _objects(data, world)
    world.failures = parse_failures(data.get('failures'), base)
    return world


def load_world(path):
    """Load a world YAML file; raise ``WorldError`` naming the file on any problem."""
    try:
        data = read_yaml(path)
    except YamlFileError as error:
        if error.not_yaml:
            raise WorldError(f'world file {path} is not valid YAML: {error.cause}') from None
        reason = getattr(error.cause, 'strerror', None) or error.cause
        raise WorldError(f'cannot read world file {path}: {reason}') from None
    try:
        return world_from_dict(data)
    except WorldError as error:
        raise WorldError(f'world file {path}: {error}') from None


def default_world_file():
    """
    Return the path of the default ``sim_world.yaml``.

    The installed package's share directory is preferred; the source tree's
    ``config/`` directory is the fallback (e.g. before a rebuild installs it).
    """
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory
        candidates.append(
            os.path.join(get_package_share_directory('llm_planner'), 'config', 'sim_world.yaml'))
    except Exception:  # not installed, or no ament_index: use the fallback below
        pass
    source_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    candidates.append(os.path.join(source_root, 'config', 'sim_world.yaml'))
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    return candidates[-1]
