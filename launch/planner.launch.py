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
Start the llm_planner node with its parameters file.

    ros2 launch llm_planner planner.launch.py
    ros2 launch llm_planner planner.launch.py model_path:=/models/qwen2.5-7b-instruct-q4_k_m.gguf
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def planner_node(context):
    """Return the planner node, with model_path overriding the file's when given."""
    parameters = [LaunchConfiguration('params_file').perform(context)]
    model_path = LaunchConfiguration('model_path').perform(context)
    if model_path:
        parameters.append({'model_path': model_path})
    return [Node(
        package='llm_planner',
        executable='planner_node',
        name='llm_planner',
        output='screen',
        parameters=parameters,
        arguments=['--ros-args', '--log-level',
                   LaunchConfiguration('log_level').perform(context)],
    )]


def generate_launch_description():
    share = get_package_share_directory('llm_planner')
    return LaunchDescription([
        DeclareLaunchArgument(
            'params_file',
            default_value=os.path.join(share, 'config', 'planner.yaml'),
            description='ROS 2 parameters file of the planner node (see config/planner.yaml)'),
        DeclareLaunchArgument(
            'model_path', default_value='',
            description='GGUF model file; empty keeps the model_path of params_file'),
        DeclareLaunchArgument(
            'log_level', default_value='info',
            description='Log level of the planner node (debug, info, warn, error)'),
        OpaqueFunction(function=planner_node),
    ])
