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
Planner and loopback robot together: the demo without a robot.

    ros2 launch llm_planner demo.launch.py
    ros2 service call /llm_planner/plan llm_planner_interfaces/srv/Plan \
        "{task: 'Go to the kitchen and grab a banana'}"
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    share = get_package_share_directory('llm_planner')
    return LaunchDescription([
        DeclareLaunchArgument(
            'params_file',
            default_value=os.path.join(share, 'config', 'planner.yaml'),
            description='ROS 2 parameters file of the planner node'),
        DeclareLaunchArgument(
            'model_path', default_value='',
            description='GGUF model file; empty keeps the model_path of params_file'),
        DeclareLaunchArgument(
            'world_file',
            default_value=os.path.join(share, 'config', 'sim_world.yaml'),
            description='World of the loopback robot: places, objects, injected failures'),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'planner.launch.py')),
            launch_arguments={
                'params_file': LaunchConfiguration('params_file'),
                'model_path': LaunchConfiguration('model_path'),
            }.items()),
        Node(
            package='llm_planner',
            executable='sim_robot',
            name='sim_robot',
            output='screen',
            parameters=[{'world_file': LaunchConfiguration('world_file')}]),
    ])
