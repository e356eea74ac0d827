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
"""Planar geometry shared by the planner, the node and the loopback robot (plain Python)."""

from dataclasses import dataclass
import math


def yaw_to_quaternion(yaw):
    """Return ``(x, y, z, w)`` of a rotation of ``yaw`` radians about z."""
    return 0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0)


def quaternion_to_yaw(x, y, z, w):
    """Return the rotation about z (radians) of a quaternion (need not be normalized)."""
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


@dataclass(frozen=True)
class Pose:
    """
    A planar pose in a named frame: the one pose type of the package.

    A place's pose on the semantic map, a LOCATION value in a plan's
    execution, the loopback robot's pose and its objects' poses.
    """

    frame: str
    x: float
    y: float
    yaw: float = 0.0

    def distance_to(self, other):
        """Return the Euclidean distance in the plane to ``other`` (frames are not checked)."""
        return math.hypot(self.x - other.x, self.y - other.y)

    def __str__(self):
        return f'({self.x:.2f}, {self.y:.2f}, yaw {self.yaw:.2f}) in {self.frame}'
