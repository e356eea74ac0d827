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

DDS isolation (automatic, at import of this file, so before any rclpy init;
the code is in test/support/dds.py):
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
    A ``RosProcessFactory`` (test/support/processes.py):
    ``start(target, params=..., namespace=...)`` runs a package executable
    in its own process (same environment, output in a log file) and returns
    a ``RosProcess``. Every process it started is
    stopped when the fixture's scope ends: SIGINT, then SIGKILL after a
    timeout. ``target`` is a module (``'llm_planner.sim.sim_robot'``, run as
    ``python -m``), a path, or a console script name of the installed package
    (``'sim_robot'``, from ``install/llm_planner/lib/llm_planner``)::

        def test_x(ros_processes, ros_node):
            sim = ros_processes.start(
                'llm_planner.sim.sim_robot', namespace='/t1',
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
    predicate)``). Waits, each with a timeout: ``wait_for_action_server``
    and ``wait_for_service`` (until the server answers a harmless request:
    discovery is not symmetric), ``wait_for_publisher`` (return a bool),
    ``wait_for(predicate)``, ``wait_future`` (fails the test on timeout).
    The code is in test/support/ros_node.py.
    Calls: ``send_goal``, ``get_result`` -> ``(status, result)``,
    ``run_goal`` -> ``GoalRun`` (``accepted``, ``feedback`` list, ``status``,
    ``status_name``, ``result``, ``goal_handle``) and ``call_service``.

``tiny_files`` (session) and the tiny models ``tiny_gguf``, ``tiny_gguf_seeds``,
``tiny_gguf_chat``, ``tiny_models``, ``tiny_model``, ``tiny_chat_model``
    Tiny random-weight GGUFs, each written once per run
    (test/support/models.py): ``tiny_files.path(seed, vocab, chat)``.

When a test fails, the tail of the log of every process that ran during it
is added to the report.

Use one namespace (or server names) per started process in a module, so that
processes of different tests never answer each other's goals.
"""

import re
import time

import pytest
from support import dds
from support.models import TinyModels
from support.processes import ALL_PROCESSES, RosProcessFactory
from support.ros_node import RosTestNode

# Before anything in this process starts ROS.
ROS_DOMAIN_ID = dds.isolate()


def pytest_report_header(config):
    return f'ROS_DOMAIN_ID={ROS_DOMAIN_ID} ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST'


@pytest.fixture(scope='session')
def ros_domain_id():
    """Return the ROS_DOMAIN_ID reserved for this test run."""
    return ROS_DOMAIN_ID


@pytest.fixture(scope='session')
def ros_env():
    """Return the environment (a dict) child processes get: same ROS domain and set-up."""
    return dds.child_env(ROS_DOMAIN_ID)


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
    for process in ALL_PROCESSES:
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


@pytest.fixture(scope='module')
def ros_node(request):
    """Return a ``RosTestNode`` for the module (own rclpy context, spinning in a thread)."""
    name = 'test_' + re.sub(r'\W+', '_', request.module.__name__.split('.')[-1])
    harness = RosTestNode(name)
    yield harness
    harness.close()


# --------------------------------------------------------------------------
# Tiny random-weight models, each file written once per run (support/models.py).

# Seeds whose random weights write different kinds of answers under the
# planner's grammar (several plans, one-line plans, unknown places, refusals).
PLANNING_SEEDS = (2, 4, 5, 6, 7)


@pytest.fixture(scope='session')
def tiny_files(tmp_path_factory):
    """Return the run's ``TinyModels``: ``tiny_files.path(seed, vocab, chat)``."""
    return TinyModels(tmp_path_factory.mktemp('tiny_models'))


@pytest.fixture(scope='session')
def tiny_gguf(tiny_files):
    """Return the path of a tiny random llama GGUF (seed 0, no chat template)."""
    return tiny_files.path(0)


@pytest.fixture(scope='session')
def tiny_gguf_seeds(tiny_files):
    """Return {seed: path} for tiny models of a few different seeds."""
    return {seed: tiny_files.path(seed) for seed in (0, 1, 2)}


@pytest.fixture(scope='session')
def tiny_gguf_chat(tiny_files):
    """Return the path of a tiny GGUF carrying a ChatML chat template."""
    return tiny_files.path(3, chat=True)


@pytest.fixture(scope='session')
def tiny_models(tiny_files):
    """Return the paths of tiny GGUFs of several seeds (they write different answers)."""
    return [tiny_files.path(seed) for seed in PLANNING_SEEDS]


@pytest.fixture(scope='session')
def tiny_model(tiny_models):
    """Return the path of a tiny random GGUF (no chat template) that writes plans."""
    return tiny_models[0]


@pytest.fixture(scope='session')
def tiny_chat_model(tiny_files):
    """Return the path of a tiny GGUF with a ChatML chat template that writes plans."""
    return tiny_files.path(5, chat=True)
