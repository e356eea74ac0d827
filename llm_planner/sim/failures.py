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
Failure injection of the loopback robot: the spec syntax and its parsing (plain Python).

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
import re

from llm_planner.core.names import snake_name

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


class WorldError(ValueError):
    """The world file or a failure spec is not valid."""


normalize_name = snake_name  # the world's names: case, blanks and hyphens folded


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
