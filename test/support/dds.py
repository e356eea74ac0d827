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
DDS isolation of a test process, before anything in it starts ROS.

:func:`isolate` reserves a random ``ROS_DOMAIN_ID`` in 1..101 (holding TCP
port 32768 + id, the scheme of ROS 2's ``domain_coordinator``, so concurrent
runs on the machine never share a domain; ``LLM_PLANNER_TEST_DOMAIN_ID``
forces one), keeps discovery on this machine, installs a Fast DDS profile
announcing every 0.5 s, points ``XDG_CACHE_HOME`` at a folder of the run and
makes SIGINT stop children again. conftest.py calls it at import.
"""

import atexit
import os
import random
import shutil
import signal
import socket
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))

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


# Fast DDS re-announces a participant every 3 s by default, and a process
# started after the test node is often discovered only then. Announcing every
# 0.5 s (loopback traffic only) makes each started process usable in well
# under a second. A process killed without a goodbye (the tests of a server
# dying) stays in the others' graph until its lease ends: 20 s by default,
# 5 s here (ten announcements missed in a row; a stall that long would be a
# failure of its own). A profile file of your own (either variable) wins.
_FAST_DISCOVERY_PROFILE = """<?xml version="1.0" encoding="UTF-8" ?>
<dds xmlns="http://www.eprosima.com">
  <profiles>
    <participant profile_name="llm_planner_tests" is_default_profile="true">
      <rtps>
        <builtin>
          <discovery_config>
            <leaseDuration><sec>5</sec><nanosec>0</nanosec></leaseDuration>
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


def _use_private_cache():
    # The planner keeps KV state files in the user's cache folder
    # (kv_cache_dir "auto" = $XDG_CACHE_HOME/llm_planner). Tests write them to
    # a folder of this run instead, shared by its planners and the nodes it
    # starts: a node started again with the same model and settings restores
    # the evaluated prompt instead of evaluating it (the suite is faster).
    directory = tempfile.mkdtemp(prefix='llm_planner_cache_')
    atexit.register(shutil.rmtree, directory, True)
    os.environ['XDG_CACHE_HOME'] = directory


_held = []  # the domain's lock socket, held for the life of the process


def isolate():
    """Reserve a domain and set this process's environment up; return the domain id."""
    domain_id, lock = _reserve_domain_id()
    if lock is not None:
        _held.append(lock)
    os.environ['ROS_DOMAIN_ID'] = str(domain_id)
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ.pop('ROS_STATIC_PEERS', None)
    os.environ['PYTHONUNBUFFERED'] = '1'
    _use_fast_discovery()
    _use_private_cache()
    # A child inherits an *ignored* SIGINT (e.g. pytest started with `&` by a
    # non-interactive shell) and would then ignore the SIGINT that stops it.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return domain_id


def child_env(domain_id):
    """Return the environment of child processes: this one's, same domain, repository first."""
    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = str(domain_id)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['PYTHONUNBUFFERED'] = '1'
    env['RCUTILS_COLORIZED_OUTPUT'] = '0'
    paths = [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]
    if REPO_ROOT not in paths:
        paths.insert(0, REPO_ROOT)
    env['PYTHONPATH'] = os.pathsep.join(paths)
    return env
