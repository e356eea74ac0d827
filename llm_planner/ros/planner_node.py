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
``planner_node``: runs :class:`llm_planner.ros.node.PlannerNode` until stopped.

``ros2 run llm_planner planner_node`` (or ``python -m
llm_planner.ros.planner_node``). SIGINT and SIGTERM are kept by this
process, not rclpy, so that stopping it cancels the running goal first and
ends every task with SHUTDOWN before the node exits; an external shutdown
of the context ends it too. A parameter of the wrong type exits 2.
"""

import sys
import threading

from llm_planner.ros.node import PlannerNode
from llm_planner.ros.spin import spin_node
from rclpy.exceptions import ParameterException

EXECUTOR_THREADS = 4
# At exit, how long main() waits for a model load still running (autostart).
AUTOSTART_JOIN = 5.0


def start_autostart(node):
    """
    Configure and activate ``node`` in a thread of its own; return the thread.

    The model loads while the executor spins, so requests meanwhile get
    NOT_ACTIVE (loading the model) at once instead of waiting for the load.
    """
    def run():
        try:
            node.configure_and_activate()
        except Exception as e:  # noqa: BLE001 - e.g. the context ended during the load
            if node.context.ok():
                node.get_logger().error(f'autostart failed: {e!r}')
    thread = threading.Thread(target=run, name='llm_planner_autostart', daemon=True)
    node.loading = True  # before the executor spins: no window showing 'unconfigured'
    thread.start()
    return thread


def main(args=None):
    """Run planner_node until SIGINT/SIGTERM or an external shutdown."""
    autostart = []

    def start(node):
        if node.autostart:
            autostart.append(start_autostart(node))

    def stop(node, executor):
        node.shutdown(executor)
        for thread in autostart:
            # A load cannot be interrupted; on_configure drops it when it ends.
            thread.join(timeout=AUTOSTART_JOIN)

    # A parameter of the wrong type (e.g. n_ctx:=4096.0) exits 2, saying which.
    return spin_node('planner_node', PlannerNode, threads=EXECUTOR_THREADS,
                     bad_settings=(ParameterException,), start=start, stop=stop, args=args)


if __name__ == '__main__':
    sys.exit(main())
