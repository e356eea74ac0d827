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
Planning speed: this planner against a seed-style baseline, on the demo model.

Prints figures, not pass/fail:

* node-free planner: time-to-ready (model load, prompt prefix and cached
  examples evaluated), per-task latency, prompt tokens evaluated, tokens
  sampled and drafted-and-kept, decoding steps, median; the same without
  per-task examples (num_examples 0);
* identity: for every task, the fast decoder's output against plain greedy
  grammar-constrained decoding (full vocabulary masked at every step);
* seed-style baseline as in the exploration: JSON output, no grammar, the
  whole prompt evaluated per request; per-task latency, validity; the ratio;
* ROS: planner_node time-to-ready (process start to first answer) and the
  service overhead (round trip of ~/plan minus its planning_time);
* restart: time to ready cold (no KV state file: the prompt is evaluated and
  the file written) and warm (the file restored), for the planner alone and
  for the node, the file's size, and whether the restored planner's plans
  are those of the fresh one on every task of eval/tasks.yaml.

    make bench          # or: python benchmarks/bench_planning.py [--model M] [--threads N]
"""

import argparse
import json
import os
import pathlib
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
DEFAULT_MODEL = ROOT / 'models' / 'qwen2.5-coder-1.5b-instruct-q4_k_m.gguf'

TASKS = [
    'Go to the kitchen and grab a banana',
    'Bring me the book from the office',
    'go to the bedroom',
    'Find the keys',
    'Go to the bathroom, take the towel and come back here',
    'Fetch the cup from the living room',
    'Va dans la cuisine et prends une pomme',
    'Drive to the entrance',
    'Pick up the phone in the bedroom and bring it to the kitchen',
    'Go to the garage',
    'Cook me some pasta',
    'Look for an apple in the kitchen',
]
# Tasks no skill can do, for what a refusal costs against a plan (not in TASKS,
# so that the median over TASKS stays comparable with earlier runs).
REFUSAL_TASKS = [
    'Make me a coffee',
    'Go to the living room and water the plants',
    'Switch off the lights in the bedroom',
    'Open the window',
    'Grab the cup and put it in the sink',
    'Wash the dishes in the kitchen',
]

SEED_SYSTEM = '\n'.join([
    'I will send a task and you will reply using only the known functions, '
    'as a JSON list of calls.',
    'In case of any missing function then you respond with just "ERROR".',
    'You know the following functions:',
    '- `GET_CURRENT_LOCATION(): LOCATION` Get the current location',
    '- `GO(to: LOCATION)` Move to some coordinates',
    '- `GET_LOCATION(location_name: STRING): LOCATION` Return the location associated '
    'with a location name',
    '- `SEARCH(object_name: STRING): LOCATION` Search for an object',
    '- `GRAB(where: LOCATION)` Grab an element at some coordinates',
    'Known locations: kitchen, living_room, bedroom, bathroom, office, entrance.',
])
SEED_EXAMPLE_TASK = 'Go to the kitchen and grab a banana'
SEED_EXAMPLE_ANSWER = json.dumps([
    {'function': 'GET_LOCATION', 'args': [{'location_name': 'kitchen'}],
     'store_result': '$kitchen_location'},
    {'function': 'GO', 'args': [{'to': '$kitchen_location'}]},
    {'function': 'SEARCH', 'args': [{'object_name': 'banana'}],
     'store_result': '$banana_location'},
    {'function': 'GRAB', 'args': [{'where': '$banana_location'}]},
], indent=4)


def median(values):
    """Return the median, or nan for no value."""
    return statistics.median(values) if values else float('nan')


def chatml(system, turns):
    """Render a ChatML prompt ending with the assistant opener."""
    out = f'<|im_start|>system\n{system}<|im_end|>\n'
    for role, text in turns:
        out += f'<|im_start|>{role}\n{text}<|im_end|>\n'
    return out + '<|im_start|>assistant\n'


def seed_valid(text, catalog, semantic_map):
    """Return (True, '') when the seed-style JSON answer is a valid plan, else (False, why)."""
    from llm_planner.core.errors import PlannerError
    from llm_planner.core.program import steps_from_json
    from llm_planner.core.validator import validate
    if text.strip() == 'ERROR':
        return True, 'ERROR'
    match = re.search(r'\[.*\]', text, re.S)
    if not match:
        return False, 'no JSON list'
    try:
        validate(steps_from_json(match.group(0)), catalog, semantic_map)
    except PlannerError as e:
        return False, e.code
    return True, ''


def run_tasks(planner, tasks=None, kinds=None):
    """
    Plan every task with ``planner``; print a row each; return the latencies.

    ``kinds``, a dict, gets each latency under 'plan' or the error code.
    """
    from llm_planner.core.errors import PlannerError
    tasks = TASKS if tasks is None else tasks
    try:
        planner.plan(tasks[0])  # first request after load, not counted
    except PlannerError:
        pass
    latencies, totals = [], {'tokens_sampled': 0, 'tokens_forced': 0, 'decode_steps': 0}
    print(f'{"task":50} {"s":>5} {"prompt":>6} {"gen":>4} {"smp":>4} {"frc":>4} {"steps":>5}'
          f'  result')
    for task in tasks:
        start = time.monotonic()
        try:
            result = planner.plan(task)
            outcome = result.program.replace('\n', ' | ')
            gen = result.tokens_generated
            details = result.details
        except PlannerError as e:
            outcome, gen, details = e.code, getattr(e, 'tokens_generated', 0), {}
        elapsed = time.monotonic() - start
        latencies.append(elapsed)
        if kinds is not None:
            kinds.setdefault('plan' if '(' in outcome else outcome, []).append(elapsed)
        for key in totals:
            totals[key] += details.get(key, 0)
        print(f'{task[:50]:50} {elapsed:5.2f} {details.get("prompt_tokens_evaluated", 0):6d} '
              f'{gen:4d} {details.get("tokens_sampled", 0):4d} '
              f'{details.get("tokens_forced", 0):4d} {details.get("decode_steps", 0):5d}  '
              f'{outcome[:70]}')
    print(f'median {median(latencies):.2f} s, mean {statistics.mean(latencies):.2f} s; '
          f'tokens sampled {totals["tokens_sampled"]}, drafted and kept '
          f'{totals["tokens_forced"]}, decoding steps {totals["decode_steps"]}')
    return latencies


def next_grammar(planner, text):
    """
    Return the grammar of the planner's next request after ``text``, or None.

    The action line's first, then the program's chosen from the line as the
    planner chooses it; None after a refused line or a program. A planner
    without an action line makes one request.
    """
    actions_grammar = getattr(planner, 'actions_grammar', None)
    if not text:
        return actions_grammar or planner.grammar
    if actions_grammar is None or text.count('\n') > 1 or not text.endswith('\n'):
        return None
    from llm_planner.planning.actions import check_actions, parse_actions
    unsupported, round_trip = check_actions(parse_actions(text), planner.catalog)
    if unsupported:
        return None
    return planner.round_trip_grammar if round_trip else planner.plan_grammar


def bench_planner(args):
    """Planner in this process: time-to-ready, per-task figures, identity check."""
    import dataclasses

    from llm_planner.planning.config import PlannerConfig
    from llm_planner.decoding.greedy import plain_greedy_decode
    from llm_planner.planning.planner import Planner

    config = PlannerConfig.from_yaml(str(ROOT / 'config' / 'planner.yaml'))
    # No KV state file here (figures comparable run to run); see bench_restart.
    changes = {'model_path': args.model, 'n_threads': args.threads}
    if hasattr(config, 'kv_cache_dir'):
        changes['kv_cache_dir'] = ''
    config = dataclasses.replace(config, **changes)
    planner = Planner(config)
    ready = planner.load()
    backend = planner.backend
    print(f'\n== this planner ({os.path.basename(args.model)}, {args.threads} threads, '
          f'num_examples {config.num_examples}, decode_batch {config.decode_batch}, '
          f'cpu_repack {config.cpu_repack})')
    print(f'time to ready (load + prefix of {backend.info().get("prefix_tokens")} tokens): '
          f'{ready:.2f} s')
    print('columns: seconds, prompt tokens evaluated (task and its examples), tokens '
          'generated, sampled at a step, drafted and kept, decoding steps (model '
          "evaluations after the prompt's, which carries the first draft)")
    kinds = {}
    latencies = run_tasks(planner, TASKS, kinds)

    print('\n== refusals: tasks no skill can do (UNSUPPORTED_TASK), against the plans above')
    run_tasks(planner, REFUSAL_TASKS, kinds)
    refused = kinds.get('UNSUPPORTED_TASK', [])
    print(f'plans: median {median(kinds.get("plan", [])):.2f} s over '
          f'{len(kinds.get("plan", []))}; refusals: median {median(refused):.2f} s over '
          f'{len(refused)}')

    print('\n== the same without per-task examples (num_examples 0: the prompt is the '
          'cached prefix and the task; plan quality is lower, see README)')
    bare = Planner(dataclasses.replace(config, num_examples=0), backend=backend)
    bare.load()
    bare_latencies = run_tasks(bare)

    print('\n== identity: fast decoder vs plain greedy constrained decoding (same prompt and')
    print('   cached examples; one token per step, whole vocabulary masked at each)')
    print('   the action line, then, unless refused, the program after it)')
    same = 0
    session = backend.session
    for task in TASKS + REFUSAL_TASKS:
        prompt = planner.prompt_builder.build(task, backend)
        backend.set_draft_facts(planner.draft_facts(task))  # as planner.plan does
        fast_text = ref_text = ''
        grammar = next_grammar(planner, '')
        while grammar is not None:
            fast = backend.complete(prompt + fast_text, grammar, config.max_tokens).text
            ref = plain_greedy_decode(session, grammar, session.text_tokens(prompt + ref_text),
                                      config.max_tokens).text
            fast_text, ref_text = fast_text + fast, ref_text + ref
            grammar = next_grammar(planner, fast_text) if fast == ref else None
        ok = fast_text == ref_text
        same += ok
        if not ok:
            print(f'DIFFERENT for {task!r}:\n  fast {fast_text!r}\n  ref  {ref_text!r}')
    print(f'identical outputs: {same}/{len(TASKS) + len(REFUSAL_TASKS)}')
    planner.close()
    return median(latencies), median(bare_latencies), planner


def bench_seed(args, catalog, semantic_map):
    """Seed-style: JSON, no grammar, whole prompt evaluated per request."""
    from llm_planner.decoding.session import load_llama
    # The same llama.cpp weight layout as the planner: the ratio compares approaches.
    llm = load_llama(args.model, {'use_extra_bufts': args.cpu_repack}, n_ctx=4096,
                     n_threads=args.threads, n_threads_batch=args.threads, verbose=False)
    print('\n== seed-style baseline (JSON, no grammar, prompt evaluated per request)')
    latencies, valid = [], 0
    for task in TASKS:
        prompt = chatml(SEED_SYSTEM, [('user', SEED_EXAMPLE_TASK),
                                      ('assistant', SEED_EXAMPLE_ANSWER), ('user', task)])
        llm.reset()  # the seed evaluated the whole prompt for every request
        start = time.monotonic()
        out = llm.create_completion(prompt, max_tokens=384, temperature=0.0,
                                    stop=['<|im_end|>'])
        elapsed = time.monotonic() - start
        latencies.append(elapsed)
        text = out['choices'][0]['text']
        ok, why = seed_valid(text, catalog, semantic_map)
        valid += ok
        print(f'{task[:58]:58} {elapsed:6.2f} s  {out["usage"]["completion_tokens"]:4d} tokens  '
              f'{"valid" if ok else "INVALID " + why}')
    print(f'median {median(latencies):.2f} s; valid plans {valid}/{len(TASKS)}')
    llm.close()
    return median(latencies)


def bench_node(args, kv_cache_dir='', label='', overhead=True):
    """planner_node in its own process: time-to-ready and service overhead; return the first."""
    from bench_load import Caller
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ['ROS_DOMAIN_ID'] = str(random.randint(120, 200))
    log_path = os.path.join(tempfile.mkdtemp(prefix='llm_planner_bench_'), 'node.log')
    print(f'\n== ROS service (planner_node in its own process{label}; log {log_path})')
    start = time.monotonic()
    with open(log_path, 'w') as log:
        node = subprocess.Popen(
            [sys.executable, '-m', 'llm_planner.ros.planner_node', '--ros-args',
             '--params-file', str(ROOT / 'config' / 'planner.yaml'),
             '-p', f'model_path:={args.model}', '-p', f'n_threads:={args.threads}',
             '-p', f"kv_cache_dir:='{kv_cache_dir}'"],
            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    caller = Caller(1)
    try:
        if not caller.wait_ready(timeout=300.0):
            print('node did not become ready')
            return None
        ready = time.monotonic() - start
        print(f'node time to ready (process start to first answer): {ready:.2f} s')
        if not overhead:
            return ready
        caller.call(0, TASKS[0], timeout=120.0)  # first request, not counted
        overheads, trips = [], []
        for task in TASKS:
            t0 = time.monotonic()
            response = caller.call(0, task, timeout=120.0)
            trip = time.monotonic() - t0
            if response is None:
                print(f'lost: {task!r}')
                continue
            trips.append(trip)
            overheads.append(trip - response.planning_time)
        print(f'service round trip median {median(trips):.3f} s; overhead (round trip - '
              f'planning_time) median {1000 * median(overheads):.1f} ms, '
              f'max {1000 * max(overheads):.1f} ms')
        return ready
    finally:
        caller.close()
        node.send_signal(signal.SIGINT)
        try:
            node.wait(timeout=20)
        except subprocess.TimeoutExpired:
            node.kill()


def eval_tasks():
    """Return the task texts of eval/tasks.yaml."""
    with open(ROOT / 'eval' / 'tasks.yaml', encoding='utf-8') as f:
        return [entry['task'] for entry in yaml.safe_load(f)['tasks']]


def plan_outcome(planner, task):
    """Return what the planner answers for ``task``: the raw text and program, or the error."""
    from llm_planner.core.errors import PlannerError
    try:
        result = planner.plan(task)
        return ('plan', result.raw_output, result.program)
    except PlannerError as e:
        return (e.code, getattr(e, 'raw_output', None))


def bench_restart(args):
    """Time to ready cold (no KV state file) and warm (restored); restored plans vs fresh."""
    import dataclasses

    from llm_planner.planning.config import PlannerConfig
    from llm_planner.planning.planner import Planner

    folder = tempfile.mkdtemp(prefix='llm_planner_bench_kv_')
    figures = {}
    try:
        config = PlannerConfig.from_yaml(str(ROOT / 'config' / 'planner.yaml'))
        config = dataclasses.replace(config, model_path=args.model, n_threads=args.threads,
                                     kv_cache_dir=folder)
        print(f'\n== restart: KV state file of the prompt prefix and example bank ({folder})')
        cold = Planner(config)
        figures['planner_cold'] = cold.load()
        info = cold.info()
        files = [os.path.join(folder, name) for name in os.listdir(folder)]
        size = sum(os.path.getsize(path) for path in files)
        figures['size'] = size
        print(f'planner time to ready, cold (no file: {info.get("prefix_tokens")} prefix '
              f'tokens and {info.get("cached_segments")} examples evaluated, file written in '
              f'{info.get("kv_cache_seconds", 0):.2f} s): {figures["planner_cold"]:.2f} s '
              f'[{info.get("kv_cache")}]')
        print(f'state file: {len(files)} file, {size / 2**20:.1f} MiB')
        warm = Planner(config)
        figures['planner_warm'] = warm.load()
        info = warm.info()
        print(f'planner time to ready, warm (model load {info.get("load_seconds", 0):.2f} s, '
              f'file read and restored in {info.get("kv_cache_seconds", 0):.2f} s): '
              f'{figures["planner_warm"]:.2f} s [{info.get("kv_cache")}]')
        tasks = TASKS if args.restart_tasks == 'bench' else eval_tasks()
        same, different = 0, []
        for task in tasks:
            a, b = plan_outcome(cold, task), plan_outcome(warm, task)
            if a == b:
                same += 1
            else:
                different.append((task, a, b))
        for task, a, b in different:
            print(f'DIFFERENT for {task!r}:\n  fresh    {a!r}\n  restored {b!r}')
        print(f'restored plans identical to fresh ones: {same}/{len(tasks)} '
              f'({args.restart_tasks} tasks)')
        figures['identical'] = (same, len(tasks))
        cold.close()
        warm.close()
        if not args.skip_node:
            shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(folder)
            figures['node_cold'] = bench_node(args, folder, ', cold: no KV state file',
                                              overhead=False)
            figures['node_warm'] = bench_node(args, folder, ', warm: KV state file restored',
                                              overhead=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    node = ''
    if figures.get('node_cold') and figures.get('node_warm'):
        node = f'; node {figures["node_cold"]:.2f} s cold, {figures["node_warm"]:.2f} s warm'
    print(f'\ntime to ready: planner {figures["planner_cold"]:.2f} s cold, '
          f'{figures["planner_warm"]:.2f} s warm{node}; state file '
          f'{figures["size"] / 2**20:.1f} MiB; restored plans identical '
          f'{figures["identical"][0]}/{figures["identical"][1]}')
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', default=str(DEFAULT_MODEL))
    parser.add_argument('--threads', type=int, default=os.cpu_count() or 2)
    parser.add_argument('--skip-seed', action='store_true')
    parser.add_argument('--skip-node', action='store_true')
    parser.add_argument('--skip-restart', action='store_true',
                        help='no cold/warm time to ready with the KV state file')
    parser.add_argument('--restart-tasks', choices=('eval', 'bench'), default='eval',
                        help='tasks whose restored plans are compared with fresh ones')
    args = parser.parse_args(argv)
    args.model = os.path.abspath(args.model)
    if not os.path.isfile(args.model):
        print(f'no model at {args.model}: run `make model`')
        return 1
    ours, bare, planner = bench_planner(args)
    args.cpu_repack = planner.config.cpu_repack
    if not args.skip_seed:
        seed = bench_seed(args, planner.catalog, planner.semantic_map)
        print(f'\nspeed-up (seed-style median / this planner median): {seed / ours:.1f}x; '
              f'without per-task examples: {seed / bare:.1f}x')
    if not args.skip_node:
        bench_node(args)
    if not args.skip_restart:
        bench_restart(args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
