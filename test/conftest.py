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
Shared fixtures for llm_planner's tests, ROS tests over real DDS in particular.

Run from the repository root after ``. scripts/env.sh``::

    python -m pytest -q test/

DDS isolation (automatic, at import of this file, so before any rclpy init):
each pytest process reserves a random ``ROS_DOMAIN_ID`` in 1..101 (holding
TCP port 32768 + id, the scheme of ROS 2's ``domain_coordinator``, so
concurrent runs on the machine never share a domain) and sets
``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``. Set ``LLM_PLANNER_TEST_DOMAIN_ID``
to force an id when debugging. With Fast DDS, a default participant profile
announcing every 0.5 s (instead of 3 s) is installed for this process and its
children, unless ``FASTRTPS_DEFAULT_PROFILES_FILE`` / ``FASTDDS_DEFAULT_PROFILES_FILE``
is already set.

The user's cache folder is not touched: ``XDG_CACHE_HOME`` points at a
temporary folder of the run (removed at exit), where planners and nodes
started by the tests keep their KV state files (``kv_cache_dir: auto``).

Fixtures:

``ros_domain_id`` (session)
    The reserved domain id (an int); ``os.environ`` already holds it.
``ros_env`` (session)
    The environment (a dict) for child processes: this process's environment
    plus the repository on ``PYTHONPATH`` and unbuffered output.
``ros_processes`` (function) / ``module_ros_processes`` (module)
    A ``RosProcessFactory``: ``start(target, params=..., namespace=...)``
    runs a package executable in its own process (same environment, output in
    a log file) and returns a ``RosProcess``. Every process it started is
    stopped when the fixture's scope ends: SIGINT, then SIGKILL after a
    timeout. ``target`` is a module (``'llm_planner.sim_robot'``, run as
    ``python -m``), a path, or a console script name of the installed package
    (``'sim_robot'``, from ``install/llm_planner/lib/llm_planner``)::

        def test_x(ros_processes, ros_node):
            sim = ros_processes.start(
                'llm_planner.sim_robot', namespace='/t1',
                params={'speed': 5.0, 'fail': ['navigate:reject']})
            sim.wait_for_output('READY')
            client = ros_node.action_client(Navigate, '/t1/navigate_to_pose')
            assert ros_node.wait_for_action_server(client, timeout=10.0)

    A ``RosProcess`` has ``wait_for_output(regex, timeout)`` (fails the test
    with the log tail if the process exits or the timeout passes),
    ``output()``, ``tail()``, ``wait_for_exit(timeout)``, ``returncode``,
    ``log_path`` and ``stop(timeout)`` (returns the exit status: 0 for a
    node that shut down cleanly on SIGINT). Float parameters keep their type
    (``5.0`` is passed as a double, never as the integer ``5``).

``ros_node`` (module)
    A ``RosTestNode``: its own rclpy ``Context`` (init at module start,
    shutdown at module end), a node (``.node``) and a
    ``MultiThreadedExecutor`` spinning in a background thread. Entities:
    ``action_client``, ``service_client``, ``subscribe`` (returns a
    ``MessageLog`` with ``messages``, ``last``, ``wait_for(count, timeout,
    predicate)``). Waits, each with a timeout: ``wait_for_action_server``,
    ``wait_for_service``, ``wait_for_publisher`` (return a bool),
    ``wait_for(predicate)``, ``wait_future`` (fails the test on timeout).
    Calls: ``send_goal``, ``get_result`` -> ``(status, result)``,
    ``run_goal`` -> ``GoalRun`` (``accepted``, ``feedback`` list, ``status``,
    ``status_name``, ``result``, ``goal_handle``) and ``call_service``.

When a test fails, the tail of the log of every process that ran during it
is added to the report.

Use one namespace (or server names) per started process in a module, so that
processes of different tests never answer each other's goals.
"""

import atexit
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
INSTALL_LIB = os.path.join(REPO_ROOT, 'install', 'llm_planner', 'lib', 'llm_planner')

# --------------------------------------------------------------------------
# DDS isolation: reserve a domain before anything in this process starts ROS.

_DOMAIN_PORT_BASE = 32768  # as domain_coordinator: TCP port 32768 + id is the lock
_DOMAIN_IDS = range(1, 102)


def _reserve_domain_id():
    """Return ``(domain_id, socket held as the lock or None)``."""
    forced = os.environ.get('LLM_PLANNER_TEST_DOMAIN_ID', '').strip()
    if forced:
        return int(forced), None
    candidates = list(_DOMAIN_IDS)
    random.SystemRandom().shuffle(candidates)
    for domain_id in candidates:
        lock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            lock.bind(('', _DOMAIN_PORT_BASE + domain_id))
        except OSError:
            lock.close()
            continue
        return domain_id, lock
    raise RuntimeError('no free ROS_DOMAIN_ID in 1..101: too many concurrent test runs')


ROS_DOMAIN_ID, _DOMAIN_LOCK = _reserve_domain_id()
os.environ['ROS_DOMAIN_ID'] = str(ROS_DOMAIN_ID)
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.pop('ROS_STATIC_PEERS', None)
os.environ['PYTHONUNBUFFERED'] = '1'

# Fast DDS re-announces a participant every 3 s by default, and a process
# started after the test node is often discovered only then. Announcing every
# 0.5 s (loopback traffic only) makes each started process usable in well
# under a second. A profile file of your own (either variable) wins.
_FAST_DISCOVERY_PROFILE = """<?xml version="1.0" encoding="UTF-8" ?>
<dds xmlns="http://www.eprosima.com">
  <profiles>
    <participant profile_name="llm_planner_tests" is_default_profile="true">
      <rtps>
        <builtin>
          <discovery_config>
            <leaseAnnouncement><sec>0</sec><nanosec>500000000</nanosec></leaseAnnouncement>
          </discovery_config>
        </builtin>
      </rtps>
    </participant>
  </profiles>
</dds>
"""
_PROFILE_VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')


def _use_fast_discovery():
    if not os.environ.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp').startswith('rmw_fastrtps'):
        return
    if any(os.environ.get(name) for name in _PROFILE_VARIABLES):
        return
    directory = tempfile.mkdtemp(prefix='llm_planner_dds_')
    path = os.path.join(directory, 'fast_discovery.xml')
    with open(path, 'w', encoding='utf-8') as stream:
        stream.write(_FAST_DISCOVERY_PROFILE)
    atexit.register(shutil.rmtree, directory, True)
    for name in _PROFILE_VARIABLES:  # Fast DDS 2.x reads the first, 3.x the second
        os.environ[name] = path


_use_fast_discovery()


def _use_private_cache():
    # The planner keeps KV state files in the user's cache folder
    # (kv_cache_dir "auto" = $XDG_CACHE_HOME/llm_planner). Tests write them to
    # a folder of this run instead, shared by its planners and the nodes it
    # starts: a node started again with the same model and settings restores
    # the evaluated prompt instead of evaluating it (the suite is faster).
    directory = tempfile.mkdtemp(prefix='llm_planner_cache_')
    atexit.register(shutil.rmtree, directory, True)
    os.environ['XDG_CACHE_HOME'] = directory


_use_private_cache()

# A child inherits an *ignored* SIGINT (e.g. pytest started with `&` by a
# non-interactive shell) and would then ignore the SIGINT that stops it.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_report_header(config):
    return f'ROS_DOMAIN_ID={ROS_DOMAIN_ID} ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST'


@pytest.fixture(scope='session')
def ros_domain_id():
    """Return the ROS_DOMAIN_ID reserved for this test run."""
    return ROS_DOMAIN_ID


def _child_env():
    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = str(ROS_DOMAIN_ID)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['PYTHONUNBUFFERED'] = '1'
    env['RCUTILS_COLORIZED_OUTPUT'] = '0'
    paths = [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]
    if REPO_ROOT not in paths:
        paths.insert(0, REPO_ROOT)
    env['PYTHONPATH'] = os.pathsep.join(paths)
    return env


@pytest.fixture(scope='session')
def ros_env():
    """Return the environment (a dict) child processes get: same ROS domain and set-up."""
    return _child_env()


# --------------------------------------------------------------------------
# Child processes.

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


_ALL_PROCESSES = []


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
        _ALL_PROCESSES.append(self)

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
    for process in _ALL_PROCESSES:
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


@pytest.fixture
def ros_processes(tmp_path, ros_env):
    """Start package executables for one test; all are stopped after it."""
    factory = RosProcessFactory(tmp_path, ros_env)
    yield factory
    factory.stop_all()


@pytest.fixture(scope='module')
def module_ros_processes(tmp_path_factory, ros_env):
    """Start package executables shared by a test module; all are stopped after it."""
    factory = RosProcessFactory(tmp_path_factory.mktemp('ros_processes'), ros_env)
    yield factory
    factory.stop_all()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item._ros_started_at = time.monotonic()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    since = getattr(item, '_ros_started_at', 0.0)
    for process in _ALL_PROCESSES:
        if process.stopped_at is not None and process.stopped_at < since:
            continue
        try:
            tail = process.tail(60)
        except OSError:
            continue
        report.sections.append((
            f'ros process {process.name} (pid {process.pid}, rc {process.returncode}, '
            f'log {process.log_path})', tail))


# --------------------------------------------------------------------------
# The tests of the ROS 2 tools (launch files, ros2 commands) by name in the
# summary, passed or skipped (with the reason), so a CI log shows they ran.

_TOOL_TEST_MODULES = re.compile(r'(^|/)test_(launch_\w+|ros2_commands)\.py(::|$)')
_tool_reports = {}


def pytest_collectreport(report):
    # A module skipped as a whole (launch_testing missing) is skipped at collection.
    if report.skipped and _TOOL_TEST_MODULES.search(report.nodeid):
        _tool_reports[report.nodeid] = report


def pytest_runtest_logreport(report):
    if not _TOOL_TEST_MODULES.search(report.nodeid):
        return
    if report.when == 'call' or report.outcome != 'passed':
        if report.nodeid not in _tool_reports or report.outcome != 'passed':
            _tool_reports[report.nodeid] = report


def pytest_terminal_summary(terminalreporter):
    if not _tool_reports:
        return
    terminalreporter.section('ROS 2 launch files and ros2 commands')
    for nodeid, report in _tool_reports.items():
        line = f'{report.outcome.upper()} {nodeid}'
        if report.skipped and isinstance(report.longrepr, tuple):
            line += f': {report.longrepr[2]}'
        terminalreporter.write_line(line)


# --------------------------------------------------------------------------
# In-process test node.

# Extra wait after a server is first discovered (see wait_for_action_server).
SETTLE_SECONDS = 0.75


class MessageLog:
    """Messages received on one subscription, thread-safe."""

    def __init__(self):
        self._condition = threading.Condition()
        self._messages = []

    def __call__(self, msg):
        with self._condition:
            self._messages.append(msg)
            self._condition.notify_all()

    @property
    def messages(self):
        with self._condition:
            return list(self._messages)

    @property
    def last(self):
        with self._condition:
            return self._messages[-1] if self._messages else None

    def clear(self):
        with self._condition:
            self._messages.clear()

    def wait_for(self, count=1, timeout=5.0, predicate=None):
        """Wait until ``count`` messages (matching ``predicate``) arrived; return them or None."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                matching = [m for m in self._messages if predicate is None or predicate(m)]
                if len(matching) >= count:
                    return matching
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._condition.wait(left)


class GoalRun:
    """What ``RosTestNode.run_goal`` saw: acceptance, feedback, final status and result."""

    def __init__(self):
        self.accepted = False
        self.goal_handle = None
        self.feedback = []
        self.status = None
        self.result = None

    @property
    def status_name(self):
        from action_msgs.msg import GoalStatus
        names = {
            GoalStatus.STATUS_UNKNOWN: 'UNKNOWN', GoalStatus.STATUS_ACCEPTED: 'ACCEPTED',
            GoalStatus.STATUS_EXECUTING: 'EXECUTING', GoalStatus.STATUS_CANCELING: 'CANCELING',
            GoalStatus.STATUS_SUCCEEDED: 'SUCCEEDED', GoalStatus.STATUS_CANCELED: 'CANCELED',
            GoalStatus.STATUS_ABORTED: 'ABORTED'}
        return names.get(self.status, str(self.status))


class RosTestNode:
    """An rclpy node with its own context, spun by a MultiThreadedExecutor in a thread."""

    def __init__(self, name='test_client', num_threads=4):
        import rclpy
        from rclpy.callback_groups import ReentrantCallbackGroup
        from rclpy.executors import MultiThreadedExecutor

        self._rclpy = rclpy
        self.context = rclpy.Context()
        try:
            from rclpy.signals import SignalHandlerOptions
            # Leave Ctrl-C to pytest.
            rclpy.init(args=[], context=self.context,
                       signal_handler_options=SignalHandlerOptions.NO)
        except ImportError:
            rclpy.init(args=[], context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.callback_group = ReentrantCallbackGroup()
        self.executor = MultiThreadedExecutor(num_threads=num_threads, context=self.context)
        self.executor.add_node(self.node)
        self._entities = []
        # Clients whose server was seen: {client: (is_ready, first seen ready at)}.
        self._clients = {}
        self._clients_lock = threading.Lock()
        self._thread = threading.Thread(target=self._spin, name=f'{name}_spin', daemon=True)
        self._thread.start()

    def _spin(self):
        from rclpy.executors import ExternalShutdownException
        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    def close(self):
        """Stop spinning, destroy everything, shut the context down."""
        self.executor.shutdown(timeout_sec=5.0)
        self._thread.join(timeout=5.0)
        # MultiThreadedExecutor keeps its worker pool: let callbacks already
        # handed to it finish before their entities are destroyed under them.
        pool = getattr(self.executor, '_executor', None)
        if pool is not None:
            pool.shutdown(wait=True)
        for entity in reversed(self._entities):
            try:
                entity.destroy()
            except Exception:  # already gone
                pass
        self.node.destroy_node()
        self._rclpy.try_shutdown(context=self.context)

    # Entities ---------------------------------------------------------------

    def action_client(self, action_type, name):
        """Create an ActionClient on the node (destroyed at close)."""
        from rclpy.action import ActionClient
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
        # Own mutually exclusive group: feedback callbacks run in order.
        client = ActionClient(
            self.node, action_type, name, callback_group=MutuallyExclusiveCallbackGroup())
        self._entities.append(client)
        with self._clients_lock:
            self._clients[client] = [client.server_is_ready, None]
        return client

    def service_client(self, srv_type, name):
        """Create a service client on the node (destroyed at close)."""
        client = self.node.create_client(srv_type, name, callback_group=self.callback_group)
        self._entities.append(client)
        with self._clients_lock:
            self._clients[client] = [client.service_is_ready, None]
        return client

    def subscribe(self, msg_type, topic, qos=10):
        """Subscribe to ``topic``; return a ``MessageLog`` collecting the messages."""
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
        log = MessageLog()
        # Own mutually exclusive group: messages are logged in arrival order.
        subscription = self.node.create_subscription(
            msg_type, topic, log, qos, callback_group=MutuallyExclusiveCallbackGroup())
        log.subscription = subscription
        self._entities.append(subscription)
        return log

    # Waiting ----------------------------------------------------------------

    @staticmethod
    def wait_for(predicate, timeout=5.0, interval=0.02):
        """Poll ``predicate()`` until it is true; return whether it became true in time."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    def wait_for_action_server(self, client, timeout=10.0, settle=SETTLE_SECONDS):
        """
        Return whether the action server of ``client`` is discovered within ``timeout``.

        Returns only ``settle`` seconds after the server was first seen: the
        server may discover this client's endpoints a little after the client
        discovered the server's, and a request sent in between gets no
        response. (Every client of this node is watched while waiting, so
        several clients of one new process settle together.)
        """
        return self._wait_ready(client, client.server_is_ready, timeout, settle)

    def wait_for_service(self, client, timeout=10.0, settle=SETTLE_SECONDS):
        """Return whether the service of ``client`` is discovered (see wait_for_action_server)."""
        return self._wait_ready(client, client.service_is_ready, timeout, settle)

    def _poll_clients(self):
        now = time.monotonic()
        with self._clients_lock:
            entries = list(self._clients.values())
        for entry in entries:
            if not entry[0]():
                entry[1] = None  # gone (or not yet there): settle again when it is back
            elif entry[1] is None:
                entry[1] = now

    def _wait_ready(self, client, is_ready, timeout, settle):
        with self._clients_lock:
            entry = self._clients.setdefault(client, [is_ready, None])
        deadline = time.monotonic() + timeout
        while True:
            self._poll_clients()
            if entry[1] is not None:
                break
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        left = entry[1] + settle - time.monotonic()
        if left > 0:
            time.sleep(left)
        return True

    def wait_for_publisher(self, topic, count=1, timeout=10.0):
        """Return whether ``count`` publishers of ``topic`` (full name) are discovered."""
        return self.wait_for(lambda: self.node.count_publishers(topic) >= count, timeout)

    @staticmethod
    def wait_future(future, timeout=10.0):
        """
        Wait for an rclpy future done by the spinning executor; return its result.

        Fails the test on timeout.
        """
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout):
            pytest.fail(f'no answer within {timeout} s')
        return future.result()

    # Actions and services ---------------------------------------------------

    def send_goal(self, client, goal, timeout=5.0, feedback_callback=None):
        """Send ``goal``; return the ClientGoalHandle (check ``.accepted``)."""
        future = client.send_goal_async(goal, feedback_callback=feedback_callback)
        return self.wait_future(future, timeout)

    def get_result(self, goal_handle, timeout=10.0):
        """Wait for the goal's end; return ``(status, result)``."""
        response = self.wait_future(goal_handle.get_result_async(), timeout)
        return response.status, response.result

    def run_goal(self, client, goal, timeout=10.0, server_timeout=10.0):
        """
        Wait for the server, send ``goal``, collect feedback, wait for the result.

        Returns a ``GoalRun``; ``status`` and ``result`` stay None when the goal
        was rejected.
        """
        if not self.wait_for_action_server(client, server_timeout):
            name = getattr(client, '_action_name', '?')
            pytest.fail(f'action server {name} not available '
                        f'within {server_timeout} s')
        run = GoalRun()
        run.goal_handle = self.send_goal(
            client, goal, timeout, feedback_callback=lambda msg: run.feedback.append(msg.feedback))
        run.accepted = run.goal_handle.accepted
        if run.accepted:
            run.status, run.result = self.get_result(run.goal_handle, timeout)
        return run

    def call_service(self, client, request, timeout=10.0):
        """Call a service (waiting for it first); return the response."""
        if not self.wait_for_service(client, timeout):
            pytest.fail(f'service {client.srv_name} not available within {timeout} s')
        return self.wait_future(client.call_async(request), timeout)


@pytest.fixture(scope='module')
def ros_node(request):
    """Return a ``RosTestNode`` for the module (own rclpy context, spinning in a thread)."""
    name = 'test_' + re.sub(r'\W+', '_', request.module.__name__.split('.')[-1])
    harness = RosTestNode(name)
    yield harness
    harness.close()
