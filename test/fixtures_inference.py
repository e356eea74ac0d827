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
Shared fixtures of the inference tests: a model server (the tiny models are in conftest.py).

Test modules load them with ``pytest_plugins = ['fixtures_inference']``.
"""

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

SERVER_START_TIMEOUT = 90.0


def free_port():
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def closed_port():
    """Return a TCP port on 127.0.0.1 that nothing listens on."""
    return free_port()


@pytest.fixture
def hanging_port():
    """
    Return a port on 127.0.0.1 where a TCP connect hangs (loopback only).

    A listener with a backlog of 0 that never accepts: once its accept queue
    holds what it can, Linux drops further SYNs, so a new connect neither
    completes nor is refused until the client's timeout. The queue is filled
    here with probing connects; the first one that times out proves it full.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers = []
    try:
        listener.bind(('127.0.0.1', 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(64):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.settimeout(0.2)
            try:
                probe.connect(('127.0.0.1', port))
            except socket.timeout:
                probe.close()
                break
            fillers.append(probe)
        else:
            pytest.fail('the loopback accept queue never filled')
        yield port
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


@pytest.fixture
def silent_port():
    """Return a port on 127.0.0.1 whose server accepts and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    accepted = []
    stop = threading.Event()

    def accept_loop():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            accepted.append(conn)

    listener.bind(('127.0.0.1', 0))
    listener.listen(8)
    listener.settimeout(0.05)
    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2.0)
        for conn in accepted:
            conn.close()
        listener.close()


def _server_up(base_url):
    try:
        with urllib.request.urlopen(base_url + '/v1/models', timeout=1.0) as reply:
            return reply.status == 200
    except OSError:
        return False


@pytest.fixture(scope='session')
def llama_server(tiny_gguf, tmp_path_factory):
    """
    Run ``python -m llama_cpp.server`` on the tiny model; return its base URL.

    The server is stopped (terminate, then kill) when the session ends.
    """
    pytest.importorskip('llama_cpp.server.app', reason='llama-cpp-python[server] extras')
    port = free_port()
    base_url = f'http://127.0.0.1:{port}'
    log_path = tmp_path_factory.mktemp('llama_server') / 'server.log'
    log = open(log_path, 'wb')
    env = dict(os.environ, OMP_WAIT_POLICY='PASSIVE')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'llama_cpp.server', '--model', tiny_gguf,
         '--host', '127.0.0.1', '--port', str(port), '--n_ctx', '2048',
         '--n_threads', '1', '--n_threads_batch', '1'],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not _server_up(base_url):
            if proc.poll() is not None:
                pytest.fail(f'llama_cpp.server exited with {proc.returncode}:\n'
                            f'{log_path.read_text(errors="replace")[-3000:]}')
            if time.monotonic() > deadline:
                pytest.fail(f'llama_cpp.server not up after {SERVER_START_TIMEOUT} s:\n'
                            f'{log_path.read_text(errors="replace")[-3000:]}')
            time.sleep(0.2)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
