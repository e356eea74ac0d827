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
The node's parameters: its own keys, their checks, declaration and validation.

The planning keys are :data:`llm_planner.planning.config.FIELDS` (checked by
:meth:`PlannerConfig.from_dict`); the node adds :data:`NODE_FIELDS`, checked
by :func:`check_node_value`. Both are declared with descriptors and checked
again in the set-parameters callback (:func:`on_set_parameters`), so a bad
value is refused with its reason and the node keeps its old one.
"""

import math

from llm_planner.planning.config import Field, FIELDS, PlannerConfig
from rcl_interfaces.msg import ParameterDescriptor, ParameterType, SetParametersResult
from rclpy.expand_topic_name import expand_topic_name
from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from rclpy.validate_full_topic_name import validate_full_topic_name

NODE_NAME = 'llm_planner'
BUSY_POLICIES = ('preempt', 'reject')

# The node's own keys (read at configure, except where noted "live" or "at start").
NODE_FIELDS = (
    Field('autostart', bool, True,
          'Configure and activate at start (no lifecycle manager needed); read at start'),
    Field('busy_policy', str, 'preempt',
          'A new task while one runs: "preempt" (cancel the running one, which ends '
          'PREEMPTED) or "reject" (the new one gets BUSY); live'),
    Field('service_queue_depth', int, 200,
          'DDS history depth (requests held until the node takes them, answers until '
          'delivered) of ~/plan and of the ~/execute_task goal, cancel and result '
          'services, 1-10000; read at start'),
    Field('max_pending_plans', int, 100,
          'Tasks that may wait for the model at once (service and action); one more is '
          'answered BUSY at once, 1-10000; live'),
    Field('pose_topic', str, 'amcl_pose',
          'Robot pose topic (geometry_msgs/PoseWithCovarianceStamped) for the skills '
          'bound to run: {kind: pose_topic}; read at configure'),
    Field('pose_frame', str, 'map',
          "Frame the robot pose must be in (the semantic map's frame); a pose in another "
          'frame gets POSE_UNAVAILABLE ("" = any frame); live'),
    Field('pose_qos_reliability', str, 'reliable',
          'QoS reliability of the pose subscription: "reliable" or "best_effort" (takes '
          'both kinds of publisher); read at configure'),
    Field('pose_qos_durability', str, 'transient_local',
          'QoS durability of the pose subscription: "transient_local" (gets the latched '
          'pose; needs a transient-local publisher, as AMCL) or "volatile" (any '
          'publisher); read at configure'),
    Field('pose_max_age', float, 5.0,
          'Oldest robot pose a pose_topic skill accepts, seconds from its stamp; '
          '0 = no limit, at most 86400; live'),
    Field('server_timeout', float, 5.0,
          'How long a step waits for its action server to be discovered, and for the '
          'answer to its goal request, seconds (0-3600]; live'),
    Field('step_timeout', float, 120.0,
          'Deadline of a step whose run: binding has no timeout, seconds (0-86400]; live'),
)
PLANNING_NAMES = tuple(f.name for f in FIELDS)
NODE_NAMES = tuple(f.name for f in NODE_FIELDS)
_PARAM_TYPES = {
    bool: ParameterType.PARAMETER_BOOL,
    int: ParameterType.PARAMETER_INTEGER,
    float: ParameterType.PARAMETER_DOUBLE,
    str: ParameterType.PARAMETER_STRING,
}


POSE_RELIABILITY = {'reliable': QoSReliabilityPolicy.RELIABLE,
                    'best_effort': QoSReliabilityPolicy.BEST_EFFORT}
POSE_DURABILITY = {'transient_local': QoSDurabilityPolicy.TRANSIENT_LOCAL,
                   'volatile': QoSDurabilityPolicy.VOLATILE}
# Upper bounds of the node's numeric keys (lower bounds in check_node_value).
MAX_QUEUE = 10000
MAX_SERVER_TIMEOUT = 3600.0
MAX_STEP_TIMEOUT = 86400.0
MAX_POSE_AGE = 86400.0


def _finite_in(value, low, high, low_open=True):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if not math.isfinite(value) or value > high:
        return False
    return value > low if low_open else value >= low


def first_line(error):
    """Return the first line of an rcl error without its ', at file.c:N' tail."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text.split(', at /')[0].rstrip(':')


def _topic_problem(value):
    if not isinstance(value, str) or not value.strip():
        return 'empty'
    try:
        validate_full_topic_name(expand_topic_name(value, NODE_NAME, '/'))
    except Exception as e:  # noqa: BLE001 - InvalidTopicNameException, RCLError
        return first_line(e)
    return ''


def check_node_value(name, value):
    """Return why ``value`` is not acceptable for node key ``name``, or ''."""
    if name == 'busy_policy' and value not in BUSY_POLICIES:
        return f'busy_policy must be one of {", ".join(BUSY_POLICIES)}, got {value!r}'
    if name in ('service_queue_depth', 'max_pending_plans') and not (
            isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_QUEUE):
        return f'{name} must be an integer from 1 to {MAX_QUEUE}, got {value!r}'
    if name == 'pose_topic':
        problem = _topic_problem(value)
        if problem:
            return f'pose_topic must be a valid topic name, got {value!r}: {problem}'
    if name == 'pose_frame' and (not isinstance(value, str) or value != value.strip()
                                 or any(c.isspace() or ord(c) < 32 for c in value)):
        return f'pose_frame must be a frame id without spaces ("" = any), got {value!r}'
    if name == 'pose_qos_reliability' and value not in POSE_RELIABILITY:
        return (f'pose_qos_reliability must be one of {", ".join(POSE_RELIABILITY)}, '
                f'got {value!r}')
    if name == 'pose_qos_durability' and value not in POSE_DURABILITY:
        return (f'pose_qos_durability must be one of {", ".join(POSE_DURABILITY)}, '
                f'got {value!r}')
    if name == 'pose_max_age' and not _finite_in(value, 0.0, MAX_POSE_AGE, low_open=False):
        return (f'pose_max_age must be from 0 (no limit) to {MAX_POSE_AGE:g} seconds, '
                f'got {value}')
    if name == 'server_timeout' and not _finite_in(value, 0.0, MAX_SERVER_TIMEOUT):
        return f'server_timeout must be in (0, {MAX_SERVER_TIMEOUT:g}] seconds, got {value}'
    if name == 'step_timeout' and not _finite_in(value, 0.0, MAX_STEP_TIMEOUT):
        return f'step_timeout must be in (0, {MAX_STEP_TIMEOUT:g}] seconds, got {value}'
    return ''


def service_qos(depth):
    """Return the QoS of the node's services: reliable, volatile, KEEP_LAST ``depth``."""
    return QoSProfile(history=QoSHistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=QoSReliabilityPolicy.RELIABLE,
                      durability=QoSDurabilityPolicy.VOLATILE)


def declare_parameters(node):
    """Declare every planning and node key on ``node``, with its descriptor."""
    for f in FIELDS + NODE_FIELDS:
        node.declare_parameter(f.name, f.default, ParameterDescriptor(
            description=f.description, type=_PARAM_TYPES[f.type]))


def planning_values(get, changes=None):
    """Return the planning keys' values (``get(name)``), updated with ``changes``."""
    values = {name: get(name) for name in PLANNING_NAMES}
    values.update(changes or {})
    return values


def check_node_values(get):
    """Raise ValueError naming the first node key whose value (``get(name)``) is bad."""
    for name in NODE_NAMES:
        reason = check_node_value(name, get(name))
        if reason:
            raise ValueError(reason)


def on_set_parameters(params, get):
    """Check a set-parameters request against the current values (``get(name)``)."""
    try:
        changes = {p.name: p.value for p in params}
        for name, value in changes.items():
            if name in NODE_NAMES:
                reason = check_node_value(name, value)
                if reason:
                    return SetParametersResult(successful=False, reason=reason)
        if any(name in PLANNING_NAMES for name in changes):
            PlannerConfig.from_dict(planning_values(
                get, {k: v for k, v in changes.items() if k in PLANNING_NAMES}))
        return SetParametersResult(successful=True)
    except (ValueError, TypeError) as e:
        return SetParametersResult(successful=False, reason=str(e))
    except Exception as e:  # noqa: BLE001 - a parameter check must answer
        return SetParametersResult(successful=False, reason=f'internal error: {e!r}')
