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
"""What ``configure`` builds and ``cleanup`` tears down: planner, runners, pose subscription."""

import ctypes
from dataclasses import dataclass
import gc

from llm_planner.execution import (check_runnable, KIND_ACTION, KIND_MAP, KIND_POSE_TOPIC,
                                   LatestPose, MapRunner, PoseTopicRunner)
from llm_planner.planning.planner import Planner
from llm_planner.ros.action_runner import ActionRunner
from llm_planner.ros.bindings import BindingError
from llm_planner.ros.parameters import POSE_DURABILITY, POSE_RELIABILITY
from llm_planner.ros.pose_topic import pose_qos, ros_clock_seconds, subscribe_pose


@dataclass
class Runtime:
    """What configure builds and cleanup tears down."""

    planner: Planner
    runners: dict
    actions: ActionRunner
    latest: LatestPose
    subscription: object
    pose_topic: str


def build_runtime(node, planner, waits, group):
    """
    Make the runners of ``planner``'s catalog on ``node``; check every binding.

    Raises BindingError naming each skill that cannot run; nothing is left
    behind on ``node`` then.
    """
    catalog = planner.catalog
    latest = LatestPose(ros_clock_seconds(node))
    topic = node.param('pose_topic')
    actions = ActionRunner(node, catalog, waits, lambda: node.param('server_timeout'), group)
    subscription = None
    try:
        pose_runner = PoseTopicRunner(latest, lambda: node.param('pose_max_age'), topic,
                                      frame=lambda: node.param('pose_frame'))
        runners = {
            KIND_MAP: MapRunner(planner.semantic_map),
            KIND_POSE_TOPIC: pose_runner,
            KIND_ACTION: actions,
        }
        problems = check_runnable(catalog, runners)
        if problems:
            raise BindingError('; '.join(problems))
        reliability = node.param('pose_qos_reliability')
        durability = node.param('pose_qos_durability')

        def incompatible(text):
            pose_runner.hint = (f'{text}; the subscription is {reliability}, {durability}: '
                                f'set pose_qos_reliability / pose_qos_durability to match')
            node.get_logger().warning(pose_runner.hint, throttle_duration_sec=10.0)
        subscription = subscribe_pose(
            node, topic, latest, group,
            qos=pose_qos(POSE_RELIABILITY[reliability], POSE_DURABILITY[durability]),
            on_incompatible=incompatible)
    except Exception:
        actions.destroy()
        if subscription is not None:
            node.destroy_subscription(subscription)
        raise
    return Runtime(planner, runners, actions, latest, subscription, topic)


def close_runtime(node, runtime):
    """Release the action clients, the pose subscription and the model (then release_memory)."""
    runtime.actions.destroy()
    if runtime.subscription is not None:
        node.destroy_subscription(runtime.subscription)
    runtime.planner.close()


def release_memory():
    """
    Return freed memory to the system after the model was closed.

    A closed model's buffers go back to glibc's heap, which keeps them: each
    configure then grew the process (measured with the tiny model: 86 -> 190
    MiB over 6 load/close cycles; with malloc_trim 61 -> 68 MiB).
    """
    gc.collect()
    try:
        libc = ctypes.CDLL(None)
        trim = getattr(libc, 'malloc_trim', None)  # glibc only
        if trim is not None:
            trim(0)
    except OSError:
        pass


def model_name(config):
    """Return how the log and the diagnostics name the configured model."""
    from llm_planner.backends import registry
    return registry.describe(config)


def log_configured(logger, planner, config, load_time, runtime):
    """Log what configure loaded (one line; the CPU repack note first, if any)."""
    info = planner.info()
    if info.get('repack_note'):
        (logger.info if info.get('cpu_repack') else logger.warning)(info['repack_note'])
    logger.info(
        f'configured: backend {config.backend}, model {model_name(config)} '
        f'loaded in {load_time:.2f} s; {len(planner.catalog)} skills, '
        f'{len(planner.semantic_map)} places; pose on {runtime.pose_topic}'
        + (f'; {info.get("n_ctx")} ctx' if info.get('n_ctx') else '')
        + (f'; KV state file: {info["kv_cache"]}' if info.get('kv_cache', 'off') != 'off'
           else ''))
