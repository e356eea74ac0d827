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
"""The robot's pose topic: its subscription, QoS and clock."""

from geometry_msgs.msg import PoseWithCovarianceStamped
from llm_planner.ros.messages import msg_to_pose, stamp_seconds
from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy

POSE_QOS = QoSProfile(
    # As Nav2's AMCL publishes amcl_pose: reliable, transient local (latched), depth 1.
    history=QoSHistoryPolicy.KEEP_LAST, depth=1,
    reliability=QoSReliabilityPolicy.RELIABLE,
    durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)


def pose_qos(reliability=QoSReliabilityPolicy.RELIABLE,
             durability=QoSDurabilityPolicy.TRANSIENT_LOCAL):
    """Return the pose subscription's QoS (depth 1), AMCL's by default."""
    return QoSProfile(history=QoSHistoryPolicy.KEEP_LAST, depth=1,
                      reliability=reliability, durability=durability)


def subscribe_pose(node, topic, latest, callback_group=None, qos=POSE_QOS,
                   on_incompatible=None):
    """
    Subscribe ``latest`` (an execution.LatestPose) to a PoseWithCovarianceStamped topic.

    ``qos`` matches Nav2's AMCL by default (reliable, transient local: the
    latched pose arrives at start-up); a best-effort or volatile publisher
    needs a best-effort or volatile subscription (the node's ``pose_qos_*``
    parameters). ``on_incompatible(text)`` is called when a publisher with an
    incompatible QoS is found. A pose stamped zero is stored with stamp 0.0
    (the runner refuses it), not as "now".
    """
    def on_pose(msg):
        try:
            stamp = stamp_seconds(msg.header.stamp)
            latest.update(msg_to_pose(msg), 0.0 if stamp is None else stamp)
        except Exception as e:  # noqa: BLE001 - a bad message must not kill the node
            node.get_logger().warning(f'ignoring a pose on {topic}: {e!r}',
                                      throttle_duration_sec=10.0)
    kwargs = {}
    if on_incompatible is not None:
        try:
            from rclpy.event_handler import SubscriptionEventCallbacks
        except ImportError:  # Humble
            from rclpy.qos_event import SubscriptionEventCallbacks

        def incompatible(event):
            on_incompatible(f'a publisher of {topic} has an incompatible QoS '
                            f'(total {event.total_count}, last policy id '
                            f'{event.last_policy_kind})')
        kwargs['event_callbacks'] = SubscriptionEventCallbacks(incompatible_qos=incompatible)
    return node.create_subscription(PoseWithCovarianceStamped, topic, on_pose, qos,
                                    callback_group=callback_group, **kwargs)


def ros_clock_seconds(node):
    """Return a function giving the node's clock in seconds (for execution.LatestPose)."""
    clock = node.get_clock()
    return lambda: clock.now().nanoseconds * 1e-9
