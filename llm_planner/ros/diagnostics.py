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
"""The node's counters and its ``/diagnostics`` status."""

from collections import deque
import statistics
import threading

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue


class PlanningStats:
    """Counts of plans and executions and the recent planning times (thread-safe)."""

    def __init__(self, window=200):
        self._lock = threading.Lock()
        self._counts = {'plans': 0, 'planning_failures': 0, 'executions': 0,
                        'execution_failures': 0}
        self._last = None
        self._times = deque(maxlen=window)

    def planned(self, seconds):
        """Count a plan that took ``seconds``."""
        with self._lock:
            self._counts['plans'] += 1
            self._time(seconds)

    def planning_failed(self, seconds=None):
        """Count a failed planning (``seconds``: its time when the model ran)."""
        with self._lock:
            self._counts['planning_failures'] += 1
            if seconds is not None:
                self._time(seconds)

    def executed(self, success):
        """Count an execution that ended."""
        with self._lock:
            self._counts['executions'] += 1
            if not success:
                self._counts['execution_failures'] += 1

    def _time(self, seconds):
        self._last = seconds
        self._times.append(seconds)

    def snapshot(self):
        """Return the counts, ``last_planning_time`` and ``median_planning_time``."""
        with self._lock:
            out = dict(self._counts)
            out['last_planning_time'] = self._last
            out['median_planning_time'] = statistics.median(self._times) \
                if self._times else None
        return out


def diagnostic_array(name, hardware_id, state, stamp, stats, runtime, active, job,
                     configure_error, backend, model):
    """
    Return the node's DiagnosticArray.

    ``state``: the lifecycle state label; ``stats``: a PlanningStats
    snapshot; ``runtime``: what configure built (None when unconfigured);
    ``job``: the current job or None; ``stamp``: a Time message.
    """
    status = DiagnosticStatus(name=f'{name}: planner', hardware_id=hardware_id)
    running = job is not None and not job.done
    if runtime is None:
        status.level = DiagnosticStatus.ERROR if configure_error else DiagnosticStatus.WARN
        status.message = (f'{state}: {configure_error}' if configure_error
                          else f'{state}: no model loaded')
    elif not active:
        status.level = DiagnosticStatus.WARN
        status.message = f'{state}: model loaded, not accepting tasks'
    else:
        status.level = DiagnosticStatus.OK
        status.message = f'active: executing task {job.number}' if running else 'active: idle'
    values = {
        'lifecycle_state': state,
        'model_loaded': str(runtime is not None and runtime.planner.loaded).lower(),
        'backend': backend,
        'model': model,
        'last_planning_time': _seconds(stats['last_planning_time']),
        'median_planning_time': _seconds(stats['median_planning_time']),
        'plans': str(stats['plans']),
        'planning_failures': str(stats['planning_failures']),
        'executions': str(stats['executions']),
        'execution_failures': str(stats['execution_failures']),
        'busy': str(running).lower(),
        'current_task': job.task if running else '',
    }
    status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
    msg = DiagnosticArray(status=[status])
    msg.header.stamp = stamp
    return msg


def _seconds(value):
    return '' if value is None else f'{value:.3f}'
