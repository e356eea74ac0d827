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
Plan quality on eval/tasks.yaml with the demo model (``make eval``).

Every task is planned with :class:`llm_planner.planner.Planner` and compared
with its expected program (up to variable renaming: variables are renamed by
order of first assignment; places compare by their canonical name, so an
alias matches; object names compare case-insensitively) or its expected
error code. Prints each failure, then:

* exact: share of tasks with the expected plan or error code;
* valid: share of tasks whose outcome is a validated plan or a deliberate
  refusal (UNSUPPORTED_TASK, UNKNOWN_LOCATION), i.e. not INVALID_PLAN,
  TIMEOUT or a crash;
* error-code accuracy: share of the tasks expecting an error that got it;
* latency (planning time) median and p90.

Always exits 0: it reports figures, it is not a test.
"""

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
if ROOT not in sys.path:  # run from a source checkout without installing
    sys.path.insert(0, ROOT)

from llm_planner.catalog import VALUES_LOCATIONS  # noqa: E402
from llm_planner.config import PlannerConfig  # noqa: E402
from llm_planner.errors import ErrorCode, PlannerError  # noqa: E402
from llm_planner.planner import Planner  # noqa: E402
from llm_planner.program import is_variable, parse_program  # noqa: E402
from llm_planner.semantic_map import normalize_place_name  # noqa: E402
import yaml  # noqa: E402

REFUSALS = (ErrorCode.UNSUPPORTED_TASK, ErrorCode.UNKNOWN_LOCATION)


def canonical(steps, catalog, semantic_map):
    """Return a comparable form of a plan: variables renamed, places canonical."""
    names = {}
    out = []
    for step in steps:
        skill = catalog.get(step.function)
        args = []
        for name, value in step.args:
            if is_variable(value):
                value = names.get(value, value)
            else:
                arg = skill.arg(name) if skill is not None else None
                if arg is not None and arg.values == VALUES_LOCATIONS:
                    place = semantic_map.resolve(value)
                    value = place.name if place else normalize_place_name(value)
                else:
                    value = ' '.join(value.lower().split())
            args.append((name, value))
        store = ''
        if step.store_result:
            if step.store_result not in names:
                names[step.store_result] = f'$v{len(names) + 1}'
            store = names[step.store_result]
        out.append((step.function, tuple(sorted(args)), store))
    return tuple(out)


def load_tasks(path):
    """Load the evaluation tasks."""
    with open(path, encoding='utf-8') as f:
        data = yaml.safe_load(f)
    tasks = data['tasks']
    for i, t in enumerate(tasks):
        if ('program' in t) == ('error' in t):
            raise ValueError(f'task {i} ({t.get("task")!r}): give program or error')
    return tasks


def percentile(values, q):
    """Return the nearest-rank ``q`` percentile of ``values``, with q in 0-100."""
    if not values:
        return float('nan')
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def evaluate(planner, tasks, out=print):
    """Plan every task, print failures, return the figures as a dict."""
    catalog, semantic_map = planner.catalog, planner.semantic_map
    n_exact = n_valid = n_err_expected = n_err_ok = 0
    latencies, failures = [], 0
    for i, t in enumerate(tasks, 1):
        started = time.monotonic()
        got_steps, got_code, raw, message = None, None, '', ''
        try:
            result = planner.plan(t['task'])
            got_steps, raw = result.steps, result.raw_output
            latency = result.planning_time
        except PlannerError as e:
            got_code, message = e.code, e.message
            raw = getattr(e, 'raw_output', '')
            latency = getattr(e, 'planning_time', time.monotonic() - started)
        latencies.append(latency)
        valid = got_code is None or got_code in REFUSALS
        n_valid += valid
        if 'error' in t:
            n_err_expected += 1
            ok = got_code == t['error']
            n_err_ok += ok
            expected_text = t['error']
        else:
            ok = False
            if got_steps is not None:
                got = canonical(got_steps, catalog, semantic_map)
                for text in [t['program']] + list(t.get('also') or []):
                    if got == canonical(parse_program(text), catalog, semantic_map):
                        ok = True
                        break
            expected_text = t['program'].strip()
        n_exact += ok
        if not ok:
            failures += 1
            got_text = raw.strip() if raw else ''
            if got_code:
                got_text = f'{got_code}: {message}\n{got_text}'.strip()
            out(f'FAIL [{i}] {t["task"]!r} ({latency:.1f} s)\n'
                '  expected:\n    ' + expected_text.replace('\n', '\n    ') + '\n'
                '  got:\n    ' + got_text.replace('\n', '\n    '))
    n = len(tasks)
    figures = {
        'tasks': n,
        'exact': 100.0 * n_exact / n if n else 0.0,
        'valid': 100.0 * n_valid / n if n else 0.0,
        'error_code_accuracy': 100.0 * n_err_ok / n_err_expected if n_err_expected else 0.0,
        'latency_median': statistics.median(latencies) if latencies else float('nan'),
        'latency_p90': percentile(latencies, 90),
    }
    out(f'\n{n} tasks, {failures} failed\n'
        f'exact:               {figures["exact"]:.1f} %  ({n_exact}/{n})\n'
        f'valid:               {figures["valid"]:.1f} %  ({n_valid}/{n})\n'
        f'error-code accuracy: {figures["error_code_accuracy"]:.1f} %  '
        f'({n_err_ok}/{n_err_expected})\n'
        f'latency:             median {figures["latency_median"]:.2f} s, '
        f'p90 {figures["latency_p90"]:.2f} s')
    return figures


def main(argv=None, backend=None):
    """Run the evaluation; always return 0."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=os.path.join(ROOT, 'config', 'planner.yaml'),
                        help='planner parameters file (default: config/planner.yaml)')
    parser.add_argument('--model', help="GGUF model (default: the config file's model_path)")
    parser.add_argument('--tasks', default=os.path.join(ROOT, 'eval', 'tasks.yaml'))
    parser.add_argument('--only', help='run only the tasks containing this text')
    parser.add_argument('--num-examples', type=int, help='override num_examples')
    parser.add_argument('--timeout', type=float,
                        help='override planning_timeout (s): on a busy machine the default '
                             'deadline turns slowness into failures')
    args = parser.parse_args(argv)
    try:
        config = PlannerConfig.from_yaml(args.config)
        changes = {}
        if args.model:
            changes['model_path'] = args.model
        elif not os.path.isabs(config.model_path):
            changes['model_path'] = os.path.join(ROOT, config.model_path)
        if args.num_examples is not None:
            changes['num_examples'] = args.num_examples
        if args.timeout is not None:
            changes['planning_timeout'] = args.timeout
        config = config.replace(**changes)
        tasks = load_tasks(args.tasks)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f'eval: cannot start: {e}', file=sys.stderr)
        return 0
    if args.only:
        tasks = [t for t in tasks if args.only.lower() in t['task'].lower()]
    planner = Planner(config, backend=backend)
    try:
        print(f'loading {config.model_file} ...', flush=True)
        print(f'ready in {planner.load():.1f} s', flush=True)
    except PlannerError as e:
        print(f'eval: {e.code}: {e.message}', file=sys.stderr)
        return 0
    evaluate(planner, tasks, out=lambda s: print(s, flush=True))
    planner.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
