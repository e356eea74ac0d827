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
``spin_node``: the one ``main()`` of the package's nodes (planner_node, sim_robot).

rclpy.init, an explicit MultiThreadedExecutor, spin until SIGINT/SIGTERM or an
external shutdown, then a clean shutdown that further signals cannot
interrupt: the node's own stop first (while the context is still valid when
the process keeps the signals), then the executor, the node, the context.
A bad setting found while the node is made exits 2 with one line; a normal
stop exits 0. rclpy only: importable by ``sim/``.
"""

import signal
import sys

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

# How long the executor's shutdown waits for the callbacks still running.
EXECUTOR_SHUTDOWN = 2.0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def init(args=None, keep_signals=True):
    """
    rclpy.init; with ``keep_signals``, SIGINT/SIGTERM raise KeyboardInterrupt in this process.

    Kept signals leave the context valid until the node has stopped (the
    planner cancels the running goal first). Without them, or with an rclpy
    that lacks the option, rclpy's handlers shut the context down and the
    spin ends with ExternalShutdownException.
    """
    try:
        from rclpy.signals import SignalHandlerOptions
    except ImportError:
        keep_signals = False
    if not keep_signals:
        rclpy.init(args=args)
        return
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def spin_node(name, make_node, *, threads, bad_settings=(), keep_signals=True,
              start=None, stop=None, args=None):
    """
    Run the node ``make_node()`` returns until stopped; return the exit status.

    ``threads``: the executor's threads, an int or ``threads(node)``;
    ``bad_settings``: exceptions that mean a bad parameter or file while the
    node is made (printed as ``name: error``, exit 2); ``start(node)``:
    called once the node is in the executor, before the spin; ``stop(node,
    executor)``: the node's own stop at the end (the executor is None when
    it was never made).
    """
    try:
        return _run(name, make_node, threads, tuple(bad_settings), keep_signals, start, stop,
                    args)
    except KeyboardInterrupt:  # a signal still pending at the very end: a normal stop
        return 0


def _run(name, make_node, threads, bad_settings, keep_signals, start, stop, args):
    init(args, keep_signals)
    node = None
    executor = None
    status = 0
    try:
        node = make_node()
        executor = MultiThreadedExecutor(
            num_threads=threads(node) if callable(threads) else threads)
        executor.add_node(node)
        if start is not None:
            start(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except bad_settings as error:
        print(f'{name}: {error}', file=sys.stderr)
        status = 2
    except Exception:
        if rclpy.ok():
            raise
        # The context was shut down under the executor (SIGTERM): a normal exit.
    finally:
        # Further signals must not interrupt the clean-up.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if node is not None and stop is not None:
            stop(node, executor)
        if executor is not None:
            executor.shutdown(timeout_sec=EXECUTOR_SHUTDOWN)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return status
