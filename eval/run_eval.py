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
Plan quality on the development set with the demo model (``make eval``).

The default set is eval/devset.yaml (issue 10; written by
eval/generate_devset.py) over the eval map eval/locations.yaml; ``--split``
picks its frozen ``test`` half (the default, what ``make eval`` reports), its
``tune`` half or ``all``. ``--tasks eval/tasks.yaml`` still runs the older set,
which has no categories or split, over the config's own map (``--locations``
picks another map).

Every task is planned with :class:`llm_planner.planning.planner.Planner` and compared
with its expected program (up to variable renaming: variables are renamed by
order of first assignment; places compare by their canonical name, so an
alias matches; object names compare case-insensitively) or its expected
error code. Prints each failure, the exact share per category, then:

* exact plans: share of tasks with the expected plan or error code;
* missing-skill tasks refused: share of the ``missing_skill`` category that
  got UNSUPPORTED_TASK;
* doable tasks wrongly refused: share of the tasks expecting a program that
  got UNSUPPORTED_TASK or UNKNOWN_LOCATION;
* valid: share of tasks whose outcome is a validated plan or a deliberate
  refusal (UNSUPPORTED_TASK, UNKNOWN_LOCATION), i.e. not INVALID_PLAN,
  TIMEOUT or a crash;
* error-code accuracy: share of the tasks expecting an error that got it;
* latency (planning time) median and p90, for plans and refusals apart.

``--shuffle SEED`` measures order sensitivity: the map's places and the
example bank's examples (core and non-core, each group apart) are shuffled
with that seed into temporary copies passed through the config's
``locations_file`` and ``examples_file``. ``--json FILE`` writes the figures
and every task's outcome.

Always exits 0: it reports figures, it is not a test.
"""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
if ROOT not in sys.path:  # run from a source checkout without installing
    sys.path.insert(0, ROOT)

from llm_planner.core.catalog import VALUES_LOCATIONS  # noqa: E402
from llm_planner.core.errors import ErrorCode, PlannerError  # noqa: E402
from llm_planner.core.program import is_variable, parse_program  # noqa: E402
from llm_planner.core.semantic_map import normalize_place_name  # noqa: E402
from llm_planner.planning.config import PlannerConfig  # noqa: E402
from llm_planner.planning.planner import Planner  # noqa: E402
import yaml  # noqa: E402

DEVSET = os.path.join(ROOT, 'eval', 'devset.yaml')
EVAL_MAP = os.path.join(ROOT, 'eval', 'locations.yaml')
REFUSALS = (ErrorCode.UNSUPPORTED_TASK, ErrorCode.UNKNOWN_LOCATION)
CRASH = 'CRASH'  # outcome code of a task whose planning raised something else


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


def map_for(tasks_file, locations=None):
    """Return the map to plan against: ``locations``, the eval map for the devset, else None."""
    if locations:
        return os.path.abspath(locations)
    if os.path.realpath(tasks_file) == os.path.realpath(DEVSET):
        return EVAL_MAP
    return None  # the config's own locations_file


def select_tasks(tasks, split='test', category=None, only=None):
    """Return the tasks of a split ('test', 'tune' or 'all'), a category, a text."""
    if split != 'all' and any('split' in t for t in tasks):
        tasks = [t for t in tasks if t.get('split') == split]
    if category:
        tasks = [t for t in tasks if t.get('category') == category]
    if only:
        tasks = [t for t in tasks if only.lower() in t['task'].lower()]
    return tasks


def shuffled_copies(config, seed, directory):
    """
    Write the config's map and example bank with their entries shuffled.

    Returns the changes to pass to ``config.replace``: absolute
    ``locations_file`` and ``examples_file`` paths in ``directory``. Places
    are shuffled; core and non-core examples are shuffled each among
    themselves (core ones stay first, as the prompt uses them).
    """
    rng = random.Random(seed)
    with open(config.locations_path, encoding='utf-8') as f:
        places = yaml.safe_load(f)
    items = list(places['locations'].items())
    rng.shuffle(items)
    places['locations'] = dict(items)
    with open(config.examples_path, encoding='utf-8') as f:
        bank = yaml.safe_load(f)
    core = [e for e in bank['examples'] if e.get('core')]
    rest = [e for e in bank['examples'] if not e.get('core')]
    rng.shuffle(core)
    rng.shuffle(rest)
    bank['examples'] = core + rest
    locations_file = os.path.join(directory, 'locations.yaml')
    examples_file = os.path.join(directory, 'examples.yaml')
    for path, data in ((locations_file, places), (examples_file, bank)):
        with open(path, 'w', encoding='utf-8') as f:
            yaml.safe_dump(data, f, allow_unicode=True, sort_keys=False)
    return {'locations_file': locations_file, 'examples_file': examples_file}


def percentile(values, q):
    """Return the nearest-rank ``q`` percentile of ``values``, with q in 0-100."""
    if not values:
        return float('nan')
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def median(values):
    """Median of values, None when there is none."""
    return statistics.median(values) if values else None


def share(k, n):
    """Percentage k/n (None when n is 0: no such task in the run)."""
    return 100.0 * k / n if n else None


def pct(value):
    """Format a percentage for the report ('n/a' for None)."""
    return '  n/a' if value is None else f'{value:5.1f}'


def secs(value):
    """Format a latency for the report ('n/a' for None)."""
    return 'n/a' if value is None else f'{value:.2f} s'


def plan_task(planner, task):
    """Plan one task; return its outcome as a dict (no comparison yet)."""
    started = time.monotonic()
    try:
        result = planner.plan(task['task'])
        actions = result.details.get('actions')
        head = f'DO: {", ".join(actions)}\n' if actions else ''
        return {'steps': result.steps, 'code': None, 'message': '',
                'raw': head + (result.raw_output or ''), 'latency': result.planning_time}
    except PlannerError as e:
        return {'steps': None, 'code': e.code, 'message': e.message,
                'raw': getattr(e, 'raw_output', '') or '',
                'latency': getattr(e, 'planning_time', time.monotonic() - started)}
    except Exception as e:  # a crash is a figure here (not valid), not the end of the run
        return {'steps': None, 'code': CRASH, 'message': f'{type(e).__name__}: {e}',
                'raw': '', 'latency': time.monotonic() - started}


def is_exact(task, outcome, catalog, semantic_map):
    """Whether the outcome is the task's expected plan or error code."""
    if 'error' in task:
        return outcome['code'] == task['error']
    if outcome['steps'] is None:
        return False
    got = canonical(outcome['steps'], catalog, semantic_map)
    return any(got == canonical(parse_program(text), catalog, semantic_map)
               for text in [task['program']] + list(task.get('also') or []))


def figures_of(records):
    """Compute the report's figures from per-task records."""
    n = len(records)
    exact = sum(r['exact'] for r in records)
    valid = sum(r['code'] is None or r['code'] in REFUSALS for r in records)
    expect_err = [r for r in records if r['expected_error']]
    missing = [r for r in records if r['category'] == 'missing_skill']
    doable = [r for r in records if not r['expected_error']]
    refused = [r for r in doable if r['code'] in REFUSALS]
    plan_lat = [r['latency'] for r in records if r['code'] is None]
    ref_lat = [r['latency'] for r in records if r['code'] in REFUSALS]
    all_lat = [r['latency'] for r in records]
    categories = {}
    for r in records:
        c = categories.setdefault(r['category'], {'n': 0, 'exact_n': 0})
        c['n'] += 1
        c['exact_n'] += r['exact']
    for c in categories.values():
        c['exact'] = share(c['exact_n'], c['n'])
    return {
        'tasks': n,
        'exact_n': exact,
        'exact': share(exact, n),
        'missing_skill_n': len(missing),
        'missing_skill_refused_n': sum(r['code'] == ErrorCode.UNSUPPORTED_TASK
                                       for r in missing),
        'missing_skill_refused': share(sum(r['code'] == ErrorCode.UNSUPPORTED_TASK
                                           for r in missing), len(missing)),
        'doable_n': len(doable),
        'doable_refused_n': len(refused),
        'doable_refused': share(len(refused), len(doable)),
        'valid_n': valid,
        'valid': share(valid, n),
        'error_expected_n': len(expect_err),
        'error_code_ok_n': sum(r['exact'] for r in expect_err),
        'error_code_accuracy': share(sum(r['exact'] for r in expect_err), len(expect_err)),
        'latency_median': median(all_lat),
        'latency_p90': percentile(all_lat, 90) if all_lat else None,
        'plan_latency_median': median(plan_lat),
        'plan_latency_p90': percentile(plan_lat, 90) if plan_lat else None,
        'refusal_latency_median': median(ref_lat),
        'refusal_latency_p90': percentile(ref_lat, 90) if ref_lat else None,
        'categories': categories,
    }


def report(fig, out=print):
    """Print the per-category table and the headline figures."""
    if any(name != '-' for name in fig['categories']):
        out(f'\n{"category":<20} {"n":>4} {"exact %":>8}')
        for name, c in fig['categories'].items():
            out(f'{name:<20} {c["n"]:>4} {pct(c["exact"]):>8}')
    n = fig['tasks']
    out(f'\n{n} tasks, {n - fig["exact_n"]} failed\n'
        f'exact plans:                  {pct(fig["exact"])} %  ({fig["exact_n"]}/{n})\n'
        f'missing-skill tasks refused:  {pct(fig["missing_skill_refused"])} %  '
        f'({fig["missing_skill_refused_n"]}/{fig["missing_skill_n"]})\n'
        f'doable tasks wrongly refused: {pct(fig["doable_refused"])} %  '
        f'({fig["doable_refused_n"]}/{fig["doable_n"]})\n'
        f'valid:                        {pct(fig["valid"])} %  ({fig["valid_n"]}/{n})\n'
        f'error-code accuracy:          {pct(fig["error_code_accuracy"])} %  '
        f'({fig["error_code_ok_n"]}/{fig["error_expected_n"]})\n'
        f'latency, all:      median {secs(fig["latency_median"])}, '
        f'p90 {secs(fig["latency_p90"])}\n'
        f'latency, plans:    median {secs(fig["plan_latency_median"])}, '
        f'p90 {secs(fig["plan_latency_p90"])}\n'
        f'latency, refusals: median {secs(fig["refusal_latency_median"])}, '
        f'p90 {secs(fig["refusal_latency_p90"])}')


def evaluate(planner, tasks, out=print):
    """Plan every task, print failures and figures; return (figures, records)."""
    catalog, semantic_map = planner.catalog, planner.semantic_map
    records = []
    for i, t in enumerate(tasks, 1):
        outcome = plan_task(planner, t)
        ok = is_exact(t, outcome, catalog, semantic_map)
        got_text = outcome['raw'].strip()
        if outcome['code']:
            got_text = f'{outcome["code"]}: {outcome["message"]}\n{got_text}'.strip()
        expected_text = t['error'] if 'error' in t else t['program'].strip()
        records.append({
            'task': t['task'], 'category': t.get('category', '-'),
            'split': t.get('split', '-'), 'exact': ok,
            'expected_error': t.get('error'), 'expected': expected_text,
            'code': outcome['code'], 'got': got_text,
            'latency': round(outcome['latency'], 3),
        })
        if not ok:
            out(f'FAIL [{i}] ({t.get("category", "-")}) {t["task"]!r} '
                f'({outcome["latency"]:.1f} s)\n'
                '  expected:\n    ' + expected_text.replace('\n', '\n    ') + '\n'
                '  got:\n    ' + got_text.replace('\n', '\n    '))
    figures = figures_of(records)
    report(figures, out)
    return figures, records


def main(argv=None, backend=None):
    """Run the evaluation; always return 0."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=os.path.join(ROOT, 'config', 'planner.yaml'),
                        help='planner parameters file (default: config/planner.yaml)')
    parser.add_argument('--model', help="GGUF model (default: the config file's model_path)")
    parser.add_argument('--tasks', default=DEVSET,
                        help='tasks file (default: eval/devset.yaml)')
    parser.add_argument('--locations',
                        help='semantic map planned against (default: eval/locations.yaml '
                             "with eval/devset.yaml, else the config's locations_file: "
                             'eval/tasks.yaml expects the laundry room to be unknown)')
    parser.add_argument('--split', choices=('test', 'tune', 'all'), default='test',
                        help='half of the set to run (default: test, the frozen half)')
    parser.add_argument('--category', help='run only the tasks of this category')
    parser.add_argument('--only', help='run only the tasks containing this text')
    parser.add_argument('--shuffle', type=int, metavar='SEED',
                        help="shuffle the map's places and the bank's examples with SEED")
    parser.add_argument('--json', metavar='FILE', help='write figures and outcomes to FILE')
    parser.add_argument('--num-examples', type=int, help='override num_examples')
    parser.add_argument('--timeout', type=float,
                        help='override planning_timeout (s): on a busy machine the default '
                             'deadline turns slowness into failures')
    args = parser.parse_args(argv)
    tmp = tempfile.TemporaryDirectory(prefix='llm_planner_eval_')
    try:
        config = PlannerConfig.from_yaml(args.config)
        changes = {}
        locations = map_for(args.tasks, args.locations)
        if locations:
            changes['locations_file'] = locations
        if args.model:
            changes['model_path'] = args.model
        elif not os.path.isabs(config.model_path):
            changes['model_path'] = os.path.join(ROOT, config.model_path)
        if args.num_examples is not None:
            changes['num_examples'] = args.num_examples
        if args.timeout is not None:
            changes['planning_timeout'] = args.timeout
        config = config.replace(**changes)
        if args.shuffle is not None:
            config = config.replace(**shuffled_copies(config, args.shuffle, tmp.name))
        tasks = select_tasks(load_tasks(args.tasks), args.split, args.category, args.only)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError) as e:
        print(f'eval: cannot start: {e}', file=sys.stderr)
        tmp.cleanup()
        return 0
    has_split = any('split' in t for t in tasks)
    print(f'{len(tasks)} tasks from {args.tasks} (split {args.split if has_split else "none"}'
          + (f', category {args.category}' if args.category else '')
          + (f', shuffle seed {args.shuffle}' if args.shuffle is not None else '')
          + f'), map {config.locations_path}', flush=True)
    planner = Planner(config, backend=backend)
    try:
        print(f'loading {config.model_file} ...', flush=True)
        print(f'ready in {planner.load():.1f} s', flush=True)
    except PlannerError as e:
        print(f'eval: {e.code}: {e.message}', file=sys.stderr)
        tmp.cleanup()
        return 0
    try:
        figures, records = evaluate(planner, tasks, out=lambda s: print(s, flush=True))
    finally:
        planner.close()
        tmp.cleanup()
    if args.json:
        try:
            with open(args.json, 'w', encoding='utf-8') as f:
                json.dump({'tasks_file': args.tasks, 'split': args.split,
                           'category': args.category, 'shuffle': args.shuffle,
                           'figures': figures, 'results': records},
                          f, indent=1, ensure_ascii=False, default=str)
            print(f'wrote {args.json}')
        except OSError as e:
            print(f'eval: cannot write {args.json}: {e}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
