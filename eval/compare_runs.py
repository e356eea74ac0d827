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
Compare eval runs (``run_eval.py --json``), e.g. the shuffle figure of issue 10.

The first file is the reference (usually the run without ``--shuffle``); the
others are compared with it: headline figures side by side, the largest
move of the exact-plan figure from the reference (the shuffle figure, in
points), and the tasks whose outcome flipped. Example::

    python eval/run_eval.py --json /tmp/base.json
    python eval/run_eval.py --shuffle 1 --json /tmp/s1.json
    python eval/run_eval.py --shuffle 2 --json /tmp/s2.json
    python eval/compare_runs.py /tmp/base.json /tmp/s1.json /tmp/s2.json

Always exits 0.
"""

import argparse
import json
import sys

HEADLINE = (('exact', 'exact plans'), ('missing_skill_refused', 'missing-skill refused'),
            ('doable_refused', 'doable refused'))


def load(path):
    """Load one run's JSON."""
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def compare(runs, names, out=print):
    """Print the comparison; return the largest exact-plan move in points (or None)."""
    out(f'{"run":<40} ' + ' '.join(f'{label:>22}' for _, label in HEADLINE))
    for name, run in zip(names, runs):
        fig = run['figures']
        cells = ['n/a' if fig.get(key) is None else f'{fig[key]:.1f} %' for key, _ in HEADLINE]
        label = name if run.get('shuffle') is None else f'{name} (shuffle {run["shuffle"]})'
        out(f'{label[-40:]:<40} ' + ' '.join(f'{c:>22}' for c in cells))
    ref = runs[0]
    moves = [abs(r['figures']['exact'] - ref['figures']['exact']) for r in runs[1:]
             if r['figures'].get('exact') is not None and ref['figures'].get('exact') is not None]
    worst = max(moves) if moves else None
    if worst is not None:
        out(f'\nlargest move of exact plans from {names[0]}: {worst:.1f} points')
    base = {r['task']: r['exact'] for r in ref['results']}
    for name, run in zip(names[1:], runs[1:]):
        flips = [(r['task'], base[r['task']], r['exact']) for r in run['results']
                 if r['task'] in base and base[r['task']] != r['exact']]
        out(f'\n{name}: {len(flips)} tasks flipped')
        for task, before, after in flips:
            out(f'  {"ok->FAIL" if before else "FAIL->ok"}  {task}')
    return worst


def main(argv=None):
    """Compare the runs given on the command line; always return 0."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('runs', nargs='+',
                        help='run_eval.py --json files; the first is the reference')
    args = parser.parse_args(argv)
    try:
        runs = [load(p) for p in args.runs]
    except (OSError, ValueError) as e:
        print(f'compare: {e}', file=sys.stderr)
        return 0
    compare(runs, args.runs)
    return 0


if __name__ == '__main__':
    sys.exit(main())
