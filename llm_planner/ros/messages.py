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
"""Conversions between plan and pose values and ROS messages."""

from geometry_msgs.msg import Pose as PoseMsg
from geometry_msgs.msg import PoseStamped
from llm_planner.core.geometry import quaternion_to_yaw, yaw_to_quaternion
from llm_planner.execution import Pose
from llm_planner_interfaces.msg import PlanStep

__all__ = ['msg_to_pose', 'pose_to_msg', 'pose_to_stamped', 'quaternion_to_yaw',
           'stamp_seconds', 'to_plan_steps', 'yaw_to_quaternion']


def pose_to_msg(pose, msg=None):
    """Fill a geometry_msgs/Pose from a :class:`Pose`."""
    msg = msg if msg is not None else PoseMsg()
    msg.position.x = float(pose.x)
    msg.position.y = float(pose.y)
    msg.position.z = 0.0
    qx, qy, qz, qw = yaw_to_quaternion(float(pose.yaw))
    msg.orientation.x, msg.orientation.y = qx, qy
    msg.orientation.z, msg.orientation.w = qz, qw
    return msg


def pose_to_stamped(pose, stamp=None):
    """Return the geometry_msgs/PoseStamped of a :class:`Pose` (``stamp``: a Time msg)."""
    msg = PoseStamped()
    msg.header.frame_id = pose.frame
    if stamp is not None:
        msg.header.stamp = stamp
    pose_to_msg(pose, msg.pose)
    return msg


def msg_to_pose(msg, frame=''):
    """Return the :class:`Pose` of a Pose, PoseStamped or PoseWithCovarianceStamped msg."""
    if hasattr(msg, 'header'):
        frame = msg.header.frame_id
    pose = msg.pose
    if hasattr(pose, 'pose'):  # PoseWithCovarianceStamped.pose is a PoseWithCovariance
        pose = pose.pose
    if hasattr(msg, 'position'):  # a bare Pose
        pose = msg
    q = pose.orientation
    return Pose(frame, float(pose.position.x), float(pose.position.y),
                quaternion_to_yaw(q.x, q.y, q.z, q.w))


def stamp_seconds(stamp):
    """Return a builtin_interfaces/Time as seconds, or None for the zero stamp."""
    if stamp.sec == 0 and stamp.nanosec == 0:
        return None
    return stamp.sec + stamp.nanosec * 1e-9


def to_plan_steps(steps, catalog=None):
    """Return PlanStep messages, arguments in the catalog's declared order."""
    out = []
    for step in steps:
        args = list(step.args)
        skill = catalog.get(step.function) if catalog is not None else None
        if skill is not None:
            order = {a.name: i for i, a in enumerate(skill.args)}
            args.sort(key=lambda a: order.get(a[0], len(order)))
        out.append(PlanStep(function=step.function, arg_names=[n for n, _ in args],
                            arg_values=[v for _, v in args], store_result=step.store_result))
    return out
