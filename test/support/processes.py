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
Package executables run in their own processes, output in log files.

``RosProcessFactory.start(target, params=..., namespace=...)`` runs a
module (``python -m``), a path, or a console script of the installed package
and returns a :class:`RosProcess`: ``wait_for_output(regex, timeout)`` (fails
the test with the log tail if the process exits or the timeout passes),
``output()``, ``tail()``, ``wait_for_exit(timeout)``, ``returncode``,
``log_path`` and ``stop(timeout)`` (SIGINT, then SIGKILL; returns the exit
status). Float parameters keep their type (``5.0`` is passed as a double).
"""

import atexit
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from .dds import REPO_ROOT

INSTALL_LIB = os.path.join(REPO_ROOT, 'install', 'llm_planner', 'lib', 'llm_planner')


def format_ros_param(value):
    """
    Render a Python value for ``--ros-args -p name:=VALUE`` keeping its ROS type.

    bool, int, float (always with a decimal point, so it stays a double), str
    (quoted, so ``'1.0'`` stays a string) and lists of those.
    """
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return '.nan'
        if value in (float('inf'), float('-inf')):
            return '.inf' if value > 0 else '-.inf'
        text = repr(value)
        mantissa, sep, exponent = text.partition('e')
        if '.' not in mantissa:
            mantissa += '.0'
        return mantissa + sep + exponent
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(format_ros_param(item) for item in value) + ']'
    raise TypeError(f'cannot pass {value!r} as a ROS parameter')


def ros_command(target, params=None, namespace=None, node_name=None, remaps=None,
                ros_args=(), args=()):
    """Build the command line running ``target`` (see ``RosProcessFactory.start``)."""
    if os.sep in target:
        command = [sys.executable, target] if target.endswith('.py') else [target]
    elif '.' in target:
        command = [sys.executable, '-m', target]
    else:
        script = os.path.join(INSTALL_LIB, target)
        if not os.access(script, os.X_OK):
            raise FileNotFoundError(
                f'{script} is missing: build the package with colcon, or pass a module name')
        command = [script]
    command += list(args)
    extra = []
    for name, value in (params or {}).items():
        extra += ['-p', f'{name}:={format_ros_param(value)}']
    if namespace:
        extra += ['-r', f'__ns:={namespace}']
    if node_name:
        extra += ['-r', f'__node:={node_name}']
    for source, destination in (remaps or {}).items():
        extra += ['-r', f'{source}:={destination}']
    extra += list(ros_args)
    if extra:
        command += ['--ros-args'] + extra
    return command


ALL_PROCESSES = []


class RosProcess:
    """One package executable running in its own process group; output in ``log_path``."""

    def __init__(self, name, command, env, log_path, cwd=REPO_ROOT):
        self.name = name
        self.command = list(command)
        self.log_path = str(log_path)
        self.started_at = time.monotonic()
        self.stopped_at = None
        self._log = open(self.log_path, 'wb')
        self.popen = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
        ALL_PROCESSES.append(self)

    @property
    def pid(self):
        return self.popen.pid

    @property
    def returncode(self):
        """Return the exit status, or None while the process runs."""
        return self.popen.poll()

    def is_running(self):
        return self.popen.poll() is None

    def output(self):
        """Return everything the process printed so far (stdout and stderr)."""
        with open(self.log_path, 'rb') as stream:
            return stream.read().decode('utf-8', 'replace')

    def tail(self, lines=40):
        return '\n'.join(self.output().splitlines()[-lines:])

    def wait_for_output(self, pattern, timeout=10.0):
        """
        Wait until the output matches the regex ``pattern``; return the match.

        Fails the test (with the log tail) on timeout or if the process exits first.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.output())
            if match:
                return match
            if not self.is_running():
                pytest.fail(
                    f'{self.name} exited ({self.returncode}) before printing {pattern!r}:\n'
                    + self.tail())
            if time.monotonic() > deadline:
                pytest.fail(f'{self.name} did not print {pattern!r} in {timeout} s:\n'
                            + self.tail())
            time.sleep(0.05)

    def wait_for_exit(self, timeout=10.0):
        """Wait for the process to end by itself; return its status (None on timeout)."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def _signal_group(self, signum):
        try:
            os.killpg(self.popen.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout=5.0):
        """
        Stop the process: SIGINT, then SIGKILL after ``timeout`` s; return its status.

        Safe to call more than once; stray children of the process are killed too.
        """
        if self.popen.poll() is None:
            self._signal_group(signal.SIGINT)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(timeout=timeout)
        self._signal_group(signal.SIGKILL)
        if self.stopped_at is None:
            self.stopped_at = time.monotonic()
        if not self._log.closed:
            self._log.close()
        return self.popen.returncode

    def __repr__(self):
        return f'<RosProcess {self.name} pid={self.pid} rc={self.returncode}>'


def _kill_leftovers():
    # Last resort if pytest dies before the fixtures' finalizers ran.
    for process in ALL_PROCESSES:
        if process.popen.poll() is None:
            process._signal_group(signal.SIGKILL)


atexit.register(_kill_leftovers)


class RosProcessFactory:
    """Starts ``RosProcess``es and stops them all in ``stop_all``."""

    def __init__(self, log_dir, env):
        self.log_dir = str(log_dir)
        self.env = env
        self.processes = []

    def start(self, target, params=None, *, namespace=None, node_name=None, remaps=None,
              ros_args=(), args=(), name=None, env=None):
        """
        Start ``target`` and return its ``RosProcess``.

        ``target``: a module (has a dot: ``python -m``), a path (has a slash),
        or a console script of the installed package. ``params`` become
        ``-p name:=value`` (see ``format_ros_param``), ``namespace`` and
        ``node_name`` remap ``__ns`` and ``__node``, ``remaps`` is
        ``{from: to}``, ``ros_args`` and ``args`` are appended raw, ``env``
        updates the environment.
        """
        command = ros_command(target, params, namespace, node_name, remaps, ros_args, args)
        base = name or re.sub(r'[^A-Za-z0-9_.-]+', '_', target.split('.')[-1].split('/')[-1])
        log_path = os.path.join(self.log_dir, f'{base}-{len(self.processes)}.log')
        process_env = dict(self.env)
        process_env.update(env or {})
        process = RosProcess(base, command, process_env, log_path)
        self.processes.append(process)
        return process

    def stop_all(self, timeout=5.0):
        """Stop every process started here (all are signalled first, then waited for)."""
        for process in self.processes:
            if process.is_running():
                process._signal_group(signal.SIGINT)
        for process in self.processes:
            process.stop(timeout)
