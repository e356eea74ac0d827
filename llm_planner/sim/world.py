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
    failures: []                # failure specs, syntax below

Failure specs (the YAML ``failures`` list and the node's ``fail`` parameter
use the same strings; ``SERVER`` is ``navigate``, ``search`` or ``grab``)::

    SERVER:reject                 every goal is rejected at acceptance
    SERVER:offline                the action server is not created at all
    SERVER:slow:FACTOR            the goal's work takes FACTOR times longer (FACTOR > 0)
    SERVER:delay:SECONDS          SECONDS more per goal, spent before the work starts
                                  (feedback still flows, cancel is honoured)
    SERVER:die_after:SECONDS      the whole process exits (os._exit, code 17)
                                  SECONDS into any goal of that server
    navigate:abort[:CODE[:MSG]]   the goal ends ABORTED with error_code CODE (a number
                                  0..65535 or UNKNOWN, FAILED_TO_LOAD_BEHAVIOR_TREE,
                                  TF_ERROR, TIMEOUT; default UNKNOWN=9000) and error_msg MSG
    search:abort[:MSG]            the goal ends ABORTED, found=false, message MSG
    grab:abort[:MSG]              the goal ends ABORTED, success=false, message MSG
    search:absent:OBJECT          OBJECT is not in the world: searches do not find it
                                  (found=false) and grabs find nothing there
    pose:silent                   the pose topic never publishes
    pose:silent_after:SECONDS     the pose topic stops SECONDS after start-up
    pose:stale:SECONDS            pose messages are stamped SECONDS in the past
    clear                         forget every failure given before it (e.g. the YAML's)

Specs are applied in order and later ones override earlier ones, so the
node's ``fail`` parameter is applied on top of the YAML's ``failures``.
"""

from dataclasses import dataclass, field, replace
import math
import os
import re

import yaml

SERVERS = ('navigate', 'search', 'grab')

# Navigate result codes, as in nav2_msgs/action/NavigateToPose.
NAVIGATE_ERROR_CODES = {
    'NONE': 0,
    'UNKNOWN': 9000,
    'FAILED_TO_LOAD_BEHAVIOR_TREE': 9001,
    'TF_ERROR': 9002,
    'TIMEOUT': 9003,
}

# Exit status of the process when a `die_after` failure fires.
DIE_EXIT_CODE = 17

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


class WorldError(ValueError):
    """The world file or a failure spec is not valid."""


def normalize_name(name):
    """Fold case, blanks and hyphens: ``'Living Room'`` -> ``'living_room'``."""
    return re.sub(r'[\s\-]+', '_', str(name).strip().lower())


@dataclass(frozen=True)
class Pose2D:
    """A planar pose in a named frame."""

    frame: str
    x: float
    y: float
    yaw: float = 0.0

    def distance_to(self, other):
        """Return the Euclidean distance in the plane to ``other`` (frames are not checked)."""
        return math.hypot(self.x - other.x, self.y - other.y)

    def __str__(self):
        return f'({self.x:.2f}, {self.y:.2f}, {self.yaw:.2f}) in {self.frame}'


@dataclass(frozen=True)
class Place:
    """A named pose, with other names it answers to."""

    name: str
    pose: Pose2D
    aliases: tuple = ()


@dataclass
class ServerFailures:
    """Failures injected into one action server (see the module doc for the syntax)."""

    reject: bool = False
    offline: bool = False
    slow: float = 1.0
    delay: float = 0.0
    die_after: float = None
    abort: bool = False
    abort_code: int = NAVIGATE_ERROR_CODES['UNKNOWN']
    abort_message: str = ''


@dataclass
class PoseFailures:
    """Failures injected into the pose topic."""

    silent: bool = False
    silent_after: float = None
    stale: float = 0.0


def _no_server_failures():
    return {name: ServerFailures() for name in SERVERS}


@dataclass
class Failures:
    """Every injected failure; ``Failures()`` injects none."""

    # One ServerFailures per action server, by name (SERVERS).
    servers: dict = field(default_factory=_no_server_failures)
    pose: PoseFailures = field(default_factory=PoseFailures)
    absent_objects: frozenset = frozenset()

    def server(self, name):
        """Return the ``ServerFailures`` of ``navigate``, ``search`` or ``grab``."""
        return self.servers[name]

    def copy(self):
        """Return an independent copy."""
        return Failures(
            servers={name: replace(failures) for name, failures in self.servers.items()},
            pose=replace(self.pose), absent_objects=frozenset(self.absent_objects))

    def describe(self):
        """Return the active failures as a list of canonical spec strings."""
        specs = []
        for name in SERVERS:
            server = self.server(name)
            if server.reject:
                specs.append(f'{name}:reject')
            if server.offline:
                specs.append(f'{name}:offline')
            if server.slow != 1.0:
                specs.append(f'{name}:slow:{server.slow:g}')
            if server.delay:
                specs.append(f'{name}:delay:{server.delay:g}')
            if server.die_after is not None:
                specs.append(f'{name}:die_after:{server.die_after:g}')
            if server.abort:
                spec = f'{name}:abort'
                if name == 'navigate':
                    spec += f':{server.abort_code}'
                if server.abort_message:
                    spec += f':{server.abort_message}'
                specs.append(spec)
        specs.extend(f'search:absent:{name}' for name in sorted(self.absent_objects))
        if self.pose.silent:
            specs.append('pose:silent')
        if self.pose.silent_after is not None:
            specs.append(f'pose:silent_after:{self.pose.silent_after:g}')
        if self.pose.stale:
            specs.append(f'pose:stale:{self.pose.stale:g}')
        return specs


def _number(text, spec, minimum=None, exclusive=False):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise WorldError(f'failure {spec!r}: {text!r} is not a number') from None
    if not math.isfinite(value):
        raise WorldError(f'failure {spec!r}: {text!r} is not a finite number')
    if minimum is not None and (value < minimum or (exclusive and value == minimum)):
        bound = '>' if exclusive else '>='
        raise WorldError(f'failure {spec!r}: the value must be {bound} {minimum:g}')
    return value


def _error_code(text, spec):
    name = text.strip().upper()
    if name in NAVIGATE_ERROR_CODES:
        return NAVIGATE_ERROR_CODES[name]
    if re.fullmatch(r'\d+', name) and int(name) <= 0xFFFF:
        return int(name)
    raise WorldError(
        f'failure {spec!r}: error code {text!r} is neither 0..65535 nor one of '
        + ', '.join(NAVIGATE_ERROR_CODES))


def _apply_server_failure(server, name, kind, rest, spec):
    def no_argument():
        if rest is not None:
            raise WorldError(f'failure {spec!r}: {name}:{kind} takes no argument')

    def argument():
        if rest is None or not rest.strip():
            raise WorldError(f'failure {spec!r}: {name}:{kind} needs a value')
        return rest.strip()

    if kind == 'reject':
        no_argument()
        server.reject = True
    elif kind == 'offline':
        no_argument()
        server.offline = True
    elif kind == 'slow':
        server.slow = _number(argument(), spec, minimum=0.0, exclusive=True)
    elif kind == 'delay':
        server.delay = _number(argument(), spec, minimum=0.0)
    elif kind == 'die_after':
        server.die_after = _number(argument(), spec, minimum=0.0)
    elif kind == 'abort':
        server.abort = True
        server.abort_code = NAVIGATE_ERROR_CODES['UNKNOWN']
        server.abort_message = ''
        if rest is not None and name == 'navigate':
            code, _, message = rest.partition(':')
            server.abort_code = _error_code(code, spec)
            server.abort_message = message.strip()
        elif rest is not None:
            server.abort_message = rest.strip()
    else:
        raise WorldError(
            f'failure {spec!r}: unknown kind {kind!r} for {name} (expected reject, '
            'offline, slow, delay, die_after, abort' + (', absent' if name == 'search' else '')
            + ')')


def apply_failure(failures, spec):
    """
    Return a copy of ``failures`` with one failure spec string applied.

    Raises ``WorldError`` on a malformed spec (unknown target or kind, missing
    or extra value, a value out of range).
    """
    if not isinstance(spec, str):
        raise WorldError(f'failure {spec!r}: expected a string like "navigate:reject"')
    result = failures.copy()
    text = spec.strip()
    if text.lower() == 'clear':
        return Failures()
    target, sep, remainder = text.partition(':')
    target = target.strip().lower()
    if not sep:
        raise WorldError(f'failure {spec!r}: expected TARGET:KIND[:VALUE], e.g. "navigate:reject"')
    kind, sep, rest = remainder.partition(':')
    kind = kind.strip().lower()
    rest = rest if sep else None
    if target in SERVERS:
        if target == 'search' and kind == 'absent':
            if rest is None or not normalize_name(rest):
                raise WorldError(f'failure {spec!r}: search:absent needs an object name')
            result.absent_objects = result.absent_objects | {normalize_name(rest)}
        else:
            _apply_server_failure(result.server(target), target, kind, rest, spec)
    elif target == 'pose':
        if kind == 'silent':
            if rest is not None:
                raise WorldError(f'failure {spec!r}: pose:silent takes no argument')
            result.pose.silent = True
        elif kind == 'silent_after':
            result.pose.silent_after = _number(rest, spec, minimum=0.0)
        elif kind == 'stale':
            result.pose.stale = _number(rest, spec, minimum=0.0, exclusive=True)
        else:
            raise WorldError(
                f'failure {spec!r}: unknown kind {kind!r} for pose '
                '(expected silent, silent_after, stale)')
    else:
        raise WorldError(
            f'failure {spec!r}: unknown target {target!r} (expected navigate, search, grab, '
            'pose or the word clear)')
    return result


def parse_failures(specs, base=None):
    """
    Apply failure spec strings in order on top of ``base`` (default: no failures).

    Empty strings are ignored, so an unset string-array parameter is harmless.
    """
    if specs is None:
        specs = []
    if isinstance(specs, str) or not isinstance(specs, (list, tuple)):
        raise WorldError(f'failures must be a list of strings, got {specs!r}')
    failures = base.copy() if base is not None else Failures()
    for spec in specs:
        if isinstance(spec, str) and not spec.strip():
            continue
        failures = apply_failure(failures, spec)
    return failures


@dataclass
class World:
    """Everything ``sim_robot`` simulates."""

    frame: str = DEFAULT_FRAME
    robot: Pose2D = Pose2D(DEFAULT_FRAME, 0.0, 0.0, 0.0)
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
        """Return ``{name: Pose2D}`` of the objects in the world (absent ones left out)."""
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
    return Pose2D(
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
            objects[name] = Pose2D(
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
        with open(path, encoding='utf-8') as stream:
            data = yaml.safe_load(stream)
    except OSError as error:
        raise WorldError(f'cannot read world file {path}: {error.strerror or error}') from None
    except yaml.YAMLError as error:
        raise WorldError(f'world file {path} is not valid YAML: {error}') from None
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
