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
``llm-planner call``: send a task to a running planner node, for machines without ros2cli.

Calls ``/llm_planner/plan`` (the same request as ``ros2 service call``), prints
the plan, and with ``--wait`` follows the task on ``/llm_planner/status``
until its result, printing each step. Every wait has a timeout; Ctrl-C while
waiting stops following (the robot goes on: cancel through the action).
"""

import json
import threading
import time

PLAN_SERVICE = 'plan'
STATUS_TOPIC = 'status'


def register(subparsers, common=None):
    """Register the ``call`` subcommand (``common``: the planning options, unused here)."""
    p = subparsers.add_parser(
        'call', help='send a task to a running planner node',
        description='Send TASK to a running planner node through its plan service.')
    p.add_argument('task', metavar='TASK', help='the task, in plain language')
    p.add_argument('--dry-run', action='store_true', help='plan only, do not execute')
    p.add_argument('--wait', action='store_true',
                   help='follow the execution until it ends; exit 0 only if it succeeded')
    p.add_argument('--node', default='/llm_planner',
                   help='fully qualified name of the planner node (default: /llm_planner)')
    p.add_argument('--timeout', type=float, default=60.0,
                   help='seconds to wait for the service and for the plan (default 60)')
    p.add_argument('--exec-timeout', type=float, default=600.0,
                   help='seconds to wait for the execution with --wait (default 600)')
    p.set_defaults(func=run)
    return p


class _Follower:
    """Collects the node's status events from a background-spinning node."""

    def __init__(self, node, topic):
        from std_msgs.msg import String
        self.events = []
        self.cond = threading.Condition()
        node.create_subscription(String, topic, self._on_status, 100)

    def _on_status(self, msg):
        try:
            event = json.loads(msg.data)
        except ValueError:
            return
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait_for(self, predicate, deadline, start=0):
        """Return (index, event) of the first event from ``start`` matching, or None."""
        with self.cond:
            while True:
                for i in range(start, len(self.events)):
                    if predicate(self.events[i]):
                        return i, self.events[i]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.cond.wait(min(remaining, 0.5))


def task_problem(task):
    """
    Return why ``task`` cannot be sent as it is, or ''.

    A NUL would cut the task where it stands (ROS strings end there) and
    undecodable bytes (a non-UTF-8 argument) cannot be sent at all.
    """
    if '\0' in task:
        return (f'the task holds a NUL character (position {task.index(chr(0))}); '
                f'ROS would cut the task there')
    for i, c in enumerate(task):
        if 0xDC80 <= ord(c) <= 0xDCFF:  # a byte the locale could not decode
            return f'the task is not UTF-8 text (byte 0x{ord(c) - 0xDC00:02X} at position {i})'
    try:
        task.encode('utf-8')
    except UnicodeEncodeError as e:
        return f'the task is not valid text: {e.reason} at position {e.start}'
    return ''


def run(args):
    """Run ``llm-planner call``; return the exit status."""
    problem = task_problem(args.task)
    if problem:
        print(f'error: INVALID_TASK: {problem}')
        return 1
    import rclpy
    from rclpy.executors import MultiThreadedExecutor

    from llm_planner.ros import spin
    from llm_planner_interfaces.srv import Plan

    node_name = args.node.rstrip('/')
    # Ctrl-C raises KeyboardInterrupt here and leaves the context valid until
    # _close has stopped the spin thread (rclpy's own handler shut it down
    # under the running executor, which crashed the process now and then).
    spin.init()
    node = rclpy.create_node('llm_planner_call')
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(node)
    spinner = threading.Thread(target=_spin, args=(executor,), daemon=True)
    try:
        follower = _Follower(node, f'{node_name}/{STATUS_TOPIC}')
        client = node.create_client(Plan, f'{node_name}/{PLAN_SERVICE}')
        spinner.start()
        if not client.wait_for_service(timeout_sec=args.timeout):
            print(f'error: SERVER_UNAVAILABLE: no service {client.srv_name} '
                  f'within {args.timeout:.0f} s (is planner_node running, same ROS_DOMAIN_ID?)')
            return 1
        done = threading.Event()
        future = client.call_async(Plan.Request(task=args.task, dry_run=args.dry_run))
        future.add_done_callback(lambda _: done.set())
        if not done.wait(args.timeout):
            future.cancel()
            print(f'error: TIMEOUT: no answer from {client.srv_name} within {args.timeout:.0f} s')
            return 1
        response = future.result()
        if not response.success:
            print(f'error: {response.error_code}: {response.message}')
            return 1
        print(f'plan ({response.planning_time:.2f} s):')
        for line in response.program.splitlines():
            print(f'  {line}')
        print(response.message)
        if args.dry_run or not args.wait:
            return 0
        return _follow(follower, args.task, response.program, args.exec_timeout)
    except KeyboardInterrupt:
        print('interrupted: no longer following (the task goes on)')
        return 130
    finally:
        _close(rclpy, executor, spinner, node)


def _spin(executor):
    from rclpy.executors import ExternalShutdownException
    try:
        executor.spin()
    except ExternalShutdownException:
        pass


def _close(rclpy, executor, spinner, node):
    """
    Stop spinning and shut rclpy down, in that order, before the interpreter exits.

    A spin thread still inside the executor's wait (or its worker pool still
    running a callback) when the process exits makes the C++ side abort with
    "terminate called without an active exception" (exit status 134): the
    executor is shut down and its thread joined first, then the node is
    destroyed and the context shut down.
    """
    executor.shutdown(timeout_sec=5.0)
    if spinner.is_alive():
        spinner.join(timeout=5.0)
    pool = getattr(executor, '_executor', None)  # MultiThreadedExecutor's worker pool
    if pool is not None:
        pool.shutdown(wait=True)
    node.destroy_node()
    rclpy.try_shutdown()


def _follow(follower, task, program, timeout):
    deadline = time.monotonic() + timeout
    found = follower.wait_for(
        lambda e: e.get('event') == 'planned' and e.get('source') == 'service'
        and e.get('task') == task and e.get('program') == program, deadline)
    if found is None:
        print('error: TIMEOUT: the task never showed on the status topic')
        return 1
    index, planned = found
    job = planned.get('job')
    while True:
        found = follower.wait_for(lambda e: e.get('job') == job and e.get('event') in (
            'step', 'result'), deadline, index + 1)
        if found is None:
            print(f'error: TIMEOUT: task {job} did not end within {timeout:.0f} s')
            return 1
        index, event = found
        if event['event'] == 'step':
            print(f"  [{event.get('step_index', 0) + 1}/{event.get('step_count')}] "
                  f"{event.get('step')}: {event.get('state')}")
            continue
        if event.get('success'):
            print(f"task {job} succeeded: {event.get('message', '')}")
            return 0
        print(f"task {job} failed at step {event.get('failed_step')}: "
              f"{event.get('error_code')}: {event.get('message')}")
        return 1
