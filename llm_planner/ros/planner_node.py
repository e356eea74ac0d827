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

import signal
import sys
import threading

from llm_planner.ros.node import PlannerNode
import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

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


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _init(args):
    """rclpy.init, keeping SIGINT/SIGTERM for main() (to cancel the running goal first)."""
    try:
        from rclpy.signals import SignalHandlerOptions
    except ImportError:  # an rclpy without the option: its handlers shut the context down
        rclpy.init(args=args)
        return
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def main(args=None):
    """Run planner_node until SIGINT/SIGTERM or an external shutdown."""
    _init(args)
    node = None
    executor = None
    autostart = None
    status = 0
    try:
        node = PlannerNode()
        executor = MultiThreadedExecutor(num_threads=EXECUTOR_THREADS)
        executor.add_node(node)
        if node.autostart:
            autostart = start_autostart(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ParameterException as e:
        # A parameter of the wrong type (e.g. n_ctx:=4096.0): say which, exit 2.
        print(f'planner_node: {e}', file=sys.stderr)
        status = 2
    except Exception:
        if rclpy.ok():
            raise
        # The context was shut down under the executor: a normal exit.
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: let cleanup finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if node is not None:
            node.shutdown(executor)
        if autostart is not None:
            # A load cannot be interrupted; on_configure drops it when it ends.
            autostart.join(timeout=AUTOSTART_JOIN)
        if executor is not None:
            executor.shutdown(timeout_sec=2.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return status


if __name__ == '__main__':
    sys.exit(main())
