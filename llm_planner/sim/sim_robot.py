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
r"""
sim_robot: a loopback robot for the planner's skills, driven by a world YAML.

Action servers (names are parameters, relative to the node's namespace):

* ``navigate_to_pose`` (``llm_planner_interfaces/action/Navigate``, fields as
  nav2_msgs/NavigateToPose): moves the robot in a straight line to the goal
  at the world's speed, feedback (current_pose, distance_remaining) at
  ``feedback_rate``; succeeds with error_code 0. A new goal preempts the
  running one, which ends ABORTED (as Nav2 does). Goals in another frame than
  the world's (an empty frame_id means the world's), with non-finite values
  or a zero quaternion are rejected.
* ``search_object`` (``SearchObject``): takes ``search_seconds``; an object is
  found when it is within ``search_radius`` of the robot (``.inf``: anywhere)
  and its pose is returned. Not found is a normal answer: SUCCEEDED with
  found=false and a message. An empty object name is rejected.
* ``grab_object`` (``GrabObject``): takes ``grab_seconds``; succeeds when
  ``where`` is within ``arm_reach`` of the robot and an object (called
  ``object_name`` when it is not empty) is within ``grab_tolerance`` of
  ``where``; otherwise ABORTED with success=false and a message. The world is
  static: a grabbed object stays where it was. An empty ``object_name`` is
  rejected (``require_object_name``, default true): a real manipulation server
  needs to know what to pick.

The robot pose is published on ``amcl_pose``
(``geometry_msgs/PoseWithCovarianceStamped``, reliable + transient local like
AMCL) at ``pose_rate``.

Every goal ends with one log line, e.g.::

    GOAL navigate_to_pose pose=(3.00, 1.00, 0.00) in map -> SUCCEEDED in 3.2 s

Failures (reject, abort, slow, offline, die mid-goal, silent or stale pose)
are injected from the world YAML's ``failures`` list and the ``fail``
parameter; the syntax is documented in ``llm_planner/sim/failures.py``. Example::

    sim_robot --ros-args -p speed:=5.0 \\
        -p "fail:=['navigate:abort:TIMEOUT:no path', 'search:absent:banana']"

``fail`` may also be changed at run time (except ``offline``, which is read at
start-up); the list replaces the previous ``fail`` list, still on top of the
YAML's failures.
"""

import math
import sys
import threading
import time

from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from llm_planner.core.geometry import Pose, quaternion_to_yaw, yaw_to_quaternion
from llm_planner.ros.spin import spin_node
from llm_planner.sim.goals import GoalExecution
from llm_planner.sim.world import (default_world_file, load_world, parse_failures, pose_text,
                                   SERVERS, WorldError)
from llm_planner_interfaces.action import GrabObject, Navigate, SearchObject
from rcl_interfaces.msg import ParameterDescriptor, ParameterType, SetParametersResult
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
import rclpy.exceptions as rclpy_exceptions
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time

# Raised by get_parameter() on a parameter declared with a type but no value (newer rclpy).
_ParameterUninitialized = getattr(
    rclpy_exceptions, 'ParameterUninitializedException', rclpy_exceptions.ParameterException)

# Each action server, once: its action type, the parameter naming it and the
# default name (relative to the node's namespace).
SERVER_SPECS = {
    'navigate': (Navigate, 'navigate_action_name', 'navigate_to_pose'),
    'search': (SearchObject, 'search_action_name', 'search_object'),
    'grab': (GrabObject, 'grab_action_name', 'grab_object'),
}


def _raw_pose(stamped):
    """Format a PoseStamped as received, for log lines (even when it is invalid)."""
    p = stamped.pose.position
    q = stamped.pose.orientation
    yaw = quaternion_to_yaw(q.x, q.y, q.z, q.w)
    frame = stamped.header.frame_id or '(no frame)'
    return f'({p.x:.2f}, {p.y:.2f}, {yaw:.2f}) in {frame}'


class SimRobot(GoalExecution, Node):
    """Navigate / SearchObject / GrabObject servers and a pose topic over a ``World``."""

    def __init__(self, **kwargs):
        super().__init__('sim_robot', **kwargs)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = time.monotonic()

        world_file = self._declare(
            'world_file', default_world_file(), 'World YAML: places, objects, start pose, '
            'speed, failures (schema in llm_planner/sim/world.py).')
        try:
            self._world = load_world(world_file)
        except WorldError as error:
            self.get_logger().fatal(str(error))
            raise
        world = self._world
        names = {
            server: self._declare(parameter, default,
                                  f'Name of the {action_type.__name__} action server.')
            for server, (action_type, parameter, default) in SERVER_SPECS.items()}
        self._names = names
        pose_topic = self._declare(
            'pose_topic', 'amcl_pose', 'Topic of the robot pose (PoseWithCovarianceStamped).')
        pose_rate = self._declare('pose_rate', 10.0, 'Pose publication rate, Hz (> 0).')
        feedback_rate = self._declare('feedback_rate', 10.0, 'Action feedback rate, Hz (> 0).')
        self.executor_threads = self._declare(
            'executor_threads', 8, 'Threads of the MultiThreadedExecutor (each goal holds one).')
        world.speed = self._declare('speed', world.speed, 'Robot speed, m/s (> 0).')
        world.search_radius = self._declare(
            'search_radius', world.search_radius,
            'Objects within this distance of the robot are found, m (.inf: anywhere).')
        world.grab_tolerance = self._declare(
            'grab_tolerance', world.grab_tolerance,
            'An object within this distance of the grab pose is grabbed, m.')
        world.arm_reach = self._declare(
            'arm_reach', world.arm_reach,
            'The grab pose must be within this distance of the robot, m (.inf: anywhere).')
        world.search_seconds = self._declare(
            'search_seconds', world.search_seconds, 'Duration of a search, s.')
        world.grab_seconds = self._declare(
            'grab_seconds', world.grab_seconds, 'Duration of a grab, s.')
        self._require_object_name = self._declare(
            'require_object_name', True,
            'Reject a GrabObject goal with an empty object_name (a real manipulation '
            'server needs the name).')
        fail = self._declare_string_array(
            'fail', 'Failures injected on top of those of the world file, e.g. '
            '["navigate:reject", "search:absent:banana"] (syntax in '
            'llm_planner/sim/failures.py). May be changed at run time, except :offline.')
        if pose_rate <= 0.0 or feedback_rate <= 0.0 or world.speed <= 0.0:
            raise WorldError('pose_rate, feedback_rate and speed must be > 0')
        if self.executor_threads < 2:
            raise WorldError('executor_threads must be >= 2')
        if min(world.search_radius, world.grab_tolerance, world.arm_reach,
               world.search_seconds, world.grab_seconds) < 0.0:
            raise WorldError('distances and durations must be >= 0')
        self._yaml_failures = world.failures
        try:
            world.failures = parse_failures(fail, self._yaml_failures)
        except WorldError as error:
            self.get_logger().fatal(f'parameter fail: {error}')
            raise
        self._offline = {name: world.failures.server(name).offline for name in SERVERS}
        self._feedback_period = 1.0 / feedback_rate

        with self._lock:
            self._pose = world.robot
            self._nav_current = None

        group = ReentrantCallbackGroup()
        self._servers = []
        callbacks = {
            'navigate': (self._execute_navigate, self._navigate_goal, self._navigate_accepted),
            'search': (self._execute_search, self._search_goal, None),
            'grab': (self._execute_grab, self._grab_goal, None),
        }
        for name in SERVERS:
            if self._offline[name]:
                continue
            action_type = SERVER_SPECS[name][0]
            execute, goal_callback, accepted = callbacks[name]
            options = {}
            if accepted is not None:
                options['handle_accepted_callback'] = accepted
            self._servers.append(ActionServer(
                self, action_type, names[name], execute_callback=execute,
                goal_callback=goal_callback, cancel_callback=self._cancel_goal,
                callback_group=group, **options))

        qos = QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._pose_pub = self.create_publisher(PoseWithCovarianceStamped, pose_topic, qos)
        self._pose_timer = self.create_timer(
            1.0 / pose_rate, self._publish_pose, callback_group=MutuallyExclusiveCallbackGroup())
        self.add_on_set_parameters_callback(self._on_set_parameters)

        servers = ', '.join(
            names[name] + (' (OFFLINE)' if self._offline[name] else '') for name in SERVERS)
        self.get_logger().info(
            f'READY servers: {servers}; pose on {pose_topic} at {pose_rate:g} Hz; '
            f'robot at {pose_text(world.robot)}, speed {world.speed:g} m/s; world {world_file}; '
            f'failures: {world.failures.describe() or "none"}')

    # Parameters -------------------------------------------------------------

    def _declare(self, name, default, description, read_only=True):
        """Declare a str, float, int or bool parameter with a descriptor; return its value."""
        types = {
            str: ParameterType.PARAMETER_STRING, float: ParameterType.PARAMETER_DOUBLE,
            int: ParameterType.PARAMETER_INTEGER, bool: ParameterType.PARAMETER_BOOL}
        descriptor = ParameterDescriptor(
            description=description, type=types[type(default)], read_only=read_only)
        return self.declare_parameter(name, default, descriptor).value

    def _declare_string_array(self, name, description):
        """Declare a string-array parameter with no default; return its value ([] if unset)."""
        descriptor = ParameterDescriptor(
            description=description, type=ParameterType.PARAMETER_STRING_ARRAY)
        try:
            self.declare_parameter(name, Parameter.Type.STRING_ARRAY, descriptor)
        except TypeError:
            # An rclpy without typed declarations: [''] is a string array, and
            # empty entries are ignored.
            self.declare_parameter(name, [''], descriptor)
        try:
            value = self.get_parameter(name).value
        except _ParameterUninitialized:  # e.g. given as `fail:=[]`
            value = None
        return [item for item in (value or []) if item.strip()]

    def _on_set_parameters(self, params):
        for param in params:
            if param.name != 'fail':
                continue
            try:
                failures = parse_failures(list(param.value or []), self._yaml_failures)
            except WorldError as error:
                return SetParametersResult(successful=False, reason=str(error))
            for name in SERVERS:
                if failures.server(name).offline != self._offline[name]:
                    return SetParametersResult(
                        successful=False,
                        reason=f'{name}:offline is read at start-up only')
            self._world.failures = failures
            self.get_logger().info(f'failures now: {failures.describe() or "none"}')
        return SetParametersResult(successful=True)

    # Pose topic -------------------------------------------------------------

    def robot_pose(self):
        """Return the current robot ``Pose``."""
        with self._lock:
            return self._pose

    def _publish_pose(self):
        failures = self._world.failures.pose
        if failures.silent:
            return
        if (failures.silent_after is not None
                and time.monotonic() - self._started >= failures.silent_after):
            return
        stamp = self.get_clock().now()
        if failures.stale > 0.0:
            stamp = Time(
                nanoseconds=max(0, stamp.nanoseconds - int(failures.stale * 1e9)),
                clock_type=stamp.clock_type)
        pose = self.robot_pose()
        msg = PoseWithCovarianceStamped()
        msg.header.stamp = stamp.to_msg()
        msg.header.frame_id = pose.frame
        self._fill_pose(msg.pose.pose, pose)
        covariance = [0.0] * 36
        covariance[0] = covariance[7] = 0.0025
        covariance[35] = 0.0025
        msg.pose.covariance = covariance
        self._pose_pub.publish(msg)

    def _pose_stamped(self, pose):
        msg = PoseStamped()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = pose.frame
        self._fill_pose(msg.pose, pose)
        return msg

    @staticmethod
    def _fill_pose(msg, pose):
        msg.position.x = float(pose.x)
        msg.position.y = float(pose.y)
        msg.position.z = 0.0
        (msg.orientation.x, msg.orientation.y,
         msg.orientation.z, msg.orientation.w) = yaw_to_quaternion(pose.yaw)

    # Goal acceptance --------------------------------------------------------

    def _to_pose2d(self, stamped, need_orientation):
        """Return ``(Pose, '')`` for a PoseStamped, or ``(None, reason)``."""
        frame = stamped.header.frame_id.strip() or self._world.frame
        if frame != self._world.frame:
            return None, f'frame {frame!r} is not {self._world.frame!r} (no TF here)'
        p = stamped.pose.position
        q = stamped.pose.orientation
        values = (p.x, p.y, p.z, q.x, q.y, q.z, q.w)
        if not all(math.isfinite(v) for v in values):
            return None, 'the pose has a non-finite value'
        norm = math.sqrt(q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w)
        if norm < 1e-6:
            if need_orientation:
                return None, 'the orientation quaternion is all zeros'
            yaw = 0.0
        else:
            yaw = quaternion_to_yaw(q.x, q.y, q.z, q.w)
        return Pose(frame, p.x, p.y, yaw), ''

    def _reject(self, server, label, reason):
        self.get_logger().warning(f'GOAL {self._names[server]} {label} -> REJECTED ({reason})')
        return GoalResponse.REJECT

    def _accept(self, server, label):
        """Accept a valid goal, unless ``SERVER:reject`` is injected."""
        if self._world.failures.server(server).reject:
            return self._reject(server, label, f'injected failure {server}:reject')
        return GoalResponse.ACCEPT

    def _navigate_goal(self, request):
        target, reason = self._to_pose2d(request.pose, need_orientation=True)
        label = f'pose={_raw_pose(request.pose)}'
        if target is None:
            return self._reject('navigate', label, reason)
        return self._accept('navigate', label)

    def _search_goal(self, request):
        label = f'object={request.object_name!r}'
        if not request.object_name.strip():
            return self._reject('search', label, 'empty object_name')
        return self._accept('search', label)

    def _grab_goal(self, request):
        where, reason = self._to_pose2d(request.where, need_orientation=False)
        label = f'object={request.object_name!r} where={_raw_pose(request.where)}'
        if where is None:
            return self._reject('grab', label, reason)
        if self._require_object_name and not request.object_name.strip():
            return self._reject('grab', label, 'empty object_name: say what to pick')
        return self._accept('grab', label)

    def _navigate_accepted(self, goal_handle):
        # One navigation at a time: the newest goal preempts the running one.
        with self._lock:
            self._nav_current = goal_handle
        goal_handle.execute()

    def _cancel_goal(self, goal_handle):
        return CancelResponse.ACCEPT

    # Shutdown ---------------------------------------------------------------

    def stop(self):
        """Make running goals end at once (used before shutting the executor down)."""
        self._stop.set()

    def destroy_node(self):
        """Stop running goals, then destroy the servers and the node."""
        self.stop()
        for server in self._servers:
            server.destroy()
        self._servers = []
        return super().destroy_node()


def main(args=None):
    """
    Run the sim_robot node until SIGINT or an external shutdown; return the exit status.

    0 after SIGINT or SIGTERM, also when a second signal comes during the
    clean-up (``ros2 launch`` signals its processes while the terminal's
    Ctrl-C reaches them too; rclpy's handler also ends the spin with
    ExternalShutdownException, and a KeyboardInterrupt still pending then
    used to fly out of the clean-up: the process died of SIGINT, exit code -2).
    A bad world file or parameter (e.g. speed:=5 instead of 5.0) exits 2.
    """
    return spin_node('sim_robot', SimRobot, threads=lambda node: node.executor_threads,
                     bad_settings=(WorldError, rclpy_exceptions.InvalidParameterTypeException),
                     keep_signals=False, stop=lambda node, executor: node.stop(), args=args)


if __name__ == '__main__':
    sys.exit(main())
