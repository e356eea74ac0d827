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
Check in a child process that llama.cpp's repacked CPU weights can decode.

``cpu_repack: true`` lets llama.cpp put the weights in its extra CPU buffer
types (repacked layouts for the AVX2/NEON kernels and, on x86 CPUs with AMX,
the AMX layout). On AMX-capable CPUs this was seen to end the process with
SIGSEGV inside ``llama_decode`` on the first batched decode, with no log
line. So before the backend loads a model that way, :func:`probe` runs this
module in a child process: it loads the model with repacking and decodes a
small batch and then one token. Only when the child exits 0 does the backend
repack; otherwise it loads the plain layout and says why in one line.

    python -m llm_planner.backends.repack_probe MODEL [N_THREADS]

``LLM_PLANNER_REPACK_PROBE_FAULT=segv`` makes the child end with SIGSEGV
after its load, as the faulty CPUs do (fault injection for tests).
"""

import os
import signal
import subprocess
import sys
import threading

PROBE_TIMEOUT = 300.0
PROBE_TOKENS = 16
FAULT_ENV = 'LLM_PLANNER_REPACK_PROBE_FAULT'

_cache = {}
_cache_lock = threading.Lock()


def cpu_has_amx():
    """Return True when /proc/cpuinfo lists an AMX feature (x86 Linux)."""
    try:
        with open('/proc/cpuinfo', encoding='ascii', errors='replace') as f:
            for line in f:
                if line.startswith('flags'):
                    return 'amx_tile' in line.split()
    except OSError:
        pass
    return False


def _describe(returncode):
    if returncode < 0:
        try:
            return f'killed by {signal.Signals(-returncode).name}'
        except ValueError:
            return f'killed by signal {-returncode}'
    return f'exit status {returncode}'


def probe(model_path, n_threads=1, timeout=PROBE_TIMEOUT):
    """
    Return ``(ok, text)``: whether a repacked load of ``model_path`` decodes.

    The result is remembered per model file (path, size, mtime) for the life
    of this process.
    """
    try:
        st = os.stat(model_path)
        key = (os.path.realpath(model_path), st.st_size, st.st_mtime_ns)
    except OSError:
        key = (model_path, None, None)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    command = [sys.executable, '-m', 'llm_planner.backends.repack_probe', str(model_path),
               str(int(n_threads))]
    try:
        proc = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f'the probe did not end within {timeout:g} s'
    except OSError as e:
        return False, f'cannot start the probe: {e}'
    if proc.returncode == 0:
        result = (True, 'a repacked test decode passed in a child process')
    else:
        tail = proc.stdout.decode('utf-8', 'replace').strip().splitlines()[-1:] or ['']
        result = (False, f'a repacked test decode in a child process failed '
                         f'({_describe(proc.returncode)})'
                  + (f': {tail[0][:200]}' if tail[0] and proc.returncode > 0 else '')
                  + ('; this CPU has AMX' if cpu_has_amx() else ''))
    with _cache_lock:
        _cache[key] = result
    return result


def main(argv=None):
    """Load a model with repacked weights, decode a small batch; exit 0 when it worked."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print('usage: python -m llm_planner.backends.repack_probe MODEL [N_THREADS]')
        return 2
    model_path = argv[0]
    n_threads = int(argv[1]) if len(argv) > 1 else 1
    from llm_planner.decoding.session import LlamaSession
    session = LlamaSession.load(model_path, n_ctx=256, n_batch=PROBE_TOKENS,
                                n_threads=n_threads, n_threads_batch=n_threads, n_gpu_layers=0,
                                verbose=False)
    if os.environ.get(FAULT_ENV) == 'segv':
        os.kill(os.getpid(), signal.SIGSEGV)
    tokens = session.tokenize(b'GO(to:$kitchen) SEARCH(object_name:"banana")', True, False)
    session.run(tokens[:PROBE_TOKENS])  # one batch
    session.run(tokens[PROBE_TOKENS:PROBE_TOKENS + 1] or tokens[:1])  # one token
    session.close(close_model=True)
    print('repack probe: ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
