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
Helpers of the execution and node integration tests (not a test module).

Processes of the package (``planner_node``, ``sim_robot``) run as
subprocesses with their output in a log file and are always stopped
(SIGINT, then SIGKILL); an in-process rclpy node spins in a thread on its own
context. DDS stays on this machine in this run's ROS_DOMAIN_ID (chosen by
test/conftest.py when present, else here).
"""

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

import rclpy
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor

os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(101, 215)))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

_names = iter(range(1, 1_000_000))


def unique(prefix):
    """Return a name unique in this run, e.g. for action servers and topics."""
    return f'{prefix}_{os.getpid()}_{next(_names)}'


class Proc:
    """A package executable in a subprocess, with its log."""

    def __init__(self, module, ros_args, log_path, env=None):
        self.log_path = str(log_path)
        self._log = open(self.log_path, 'w', encoding='utf-8')
        self.popen = subprocess.Popen(
            [sys.executable, '-u', '-m', module, '--ros-args', *ros_args],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})}, start_new_session=True)

    def log(self):
        """Return the output so far."""
        with open(self.log_path, encoding='utf-8', errors='replace') as f:
            return f.read()

    def wait_log(self, pattern, timeout=30.0):
        """Wait until the log matches ``pattern`` (a regex); return the match or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log())
            if m:
                return m
            if self.popen.poll() is not None:
                return re.search(pattern, self.log())
            time.sleep(0.1)
        return None

    def alive(self):
        """Return True while the process runs."""
        return self.popen.poll() is None

    def stop(self, timeout=10.0):
        """SIGINT, then SIGKILL after ``timeout``; return the exit status."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5.0)
        self._log.close()
        return self.popen.returncode


def start_sim(tmp_path, name='sim', fail=(), servers=None, pose_topic='amcl_pose',
              params=()):
    """Start sim_robot; ``servers`` renames navigate/search/grab; wait until READY."""
    args = ['-r', f'__node:={unique("sim_robot")}', '-p', f'pose_topic:={pose_topic}']
    for key, value in (servers or {}).items():
        args += ['-p', f'{key}_action_name:={value}']
    if fail:
        args += ['-p', 'fail:=[' + ', '.join(f'"{f}"' for f in fail) + ']']
    for param in params:
        args += ['-p', param]
    proc = Proc('llm_planner.sim_robot', args, tmp_path / f'{name}.log')
    if not proc.wait_log(r'READY', 30.0):
        proc.stop()
        raise RuntimeError(f'sim_robot did not start:\n{proc.log()}')
    return proc


class RosHarness:
    """An rclpy node on its own context, spun by a MultiThreadedExecutor in a thread."""

    def __init__(self, name='llm_planner_test'):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(unique(name), context=self.context)
        self.group = ReentrantCallbackGroup()
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def run(self, coroutine, timeout=60.0):
        """Run a coroutine on the executor; return its value (raise on timeout)."""
        task = self.executor.create_task(coroutine)
        deadline = time.monotonic() + timeout
        while not task.done():
            if time.monotonic() > deadline:
                task.cancel()
                raise TimeoutError(f'coroutine still running after {timeout} s')
            time.sleep(0.02)
        return task.result()

    def call(self, client, request, timeout=60.0):
        """Call a service and return the response (raise on timeout)."""
        future = client.call_async(request)
        return wait_future(future, timeout)

    def close(self):
        """Stop spinning and destroy everything."""
        self.executor.shutdown(timeout_sec=5.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._thread.join(5.0)


def wait_future(future, timeout):
    """Wait (from a test thread) for an rclpy future spun elsewhere; return its result."""
    deadline = time.monotonic() + timeout
    while not future.done():
        if time.monotonic() > deadline:
            raise TimeoutError(f'no answer within {timeout} s')
        time.sleep(0.02)
    return future.result()


def wait_until(predicate, timeout, period=0.05):
    """Poll ``predicate`` until true; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(period)
