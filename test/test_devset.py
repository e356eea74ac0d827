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
"""The development set eval/devset.yaml and its eval map (no model needed)."""

import importlib.util
import os
import pathlib
import re

from llm_planner.core.catalog import SkillCatalog
from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.core.program import parse_program
from llm_planner.core.semantic_map import normalize_place_name, SemanticMap
from llm_planner.core.validator import validate
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
EVAL = ROOT / 'eval'
CONFIG = ROOT / 'config'
CATEGORIES = {
    'single_move', 'search_with_place', 'search_no_place', 'fetch_no_return',
    'bring_to_speaker', 'bring_to_room', 'several_objects', 'several_rooms',
    'return', 'polite_indirect', 'french', 'unknown_place', 'missing_skill',
    'prompt_injection',
}


def _module(name):
    spec = importlib.util.spec_from_file_location(name, EVAL / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def generator():
    return _module('generate_devset')


@pytest.fixture(scope='module')
def tasks():
    with open(EVAL / 'devset.yaml', encoding='utf-8') as f:
        return yaml.safe_load(f)['tasks']


@pytest.fixture(scope='module')
def catalog():
    return SkillCatalog.load(str(CONFIG / 'skills.yaml'))


@pytest.fixture(scope='module')
def eval_map():
    return SemanticMap.load(str(EVAL / 'locations.yaml'))


def fold(text):
    return ' '.join(text.lower().split())


def test_file_is_what_the_generator_writes(generator):
    with open(EVAL / 'devset.yaml', encoding='utf-8') as f:
        assert f.read() == generator.dump(generator.generate()), \
            'eval/devset.yaml is stale: run python eval/generate_devset.py'


def test_generator_is_deterministic(generator):
    assert generator.dump(generator.generate()) == generator.dump(generator.generate())


def test_size_and_fields(tasks):
    assert len(tasks) >= 300
    for t in tasks:
        assert set(t) <= {'task', 'category', 'program', 'error', 'also', 'split',
                          'action', 'place'}, t
        assert isinstance(t['task'], str) and t['task'].strip(), t
        assert ('program' in t) != ('error' in t), t
        assert t['split'] in ('tune', 'test'), t
        assert t['category'] in CATEGORIES, t


def test_every_category_in_both_halves(tasks):
    for split in ('tune', 'test'):
        present = {t['category'] for t in tasks if t['split'] == split}
        assert present == CATEGORIES, (split, CATEGORIES - present)


def test_split_is_half_per_category(tasks):
    for category in CATEGORIES:
        group = [t for t in tasks if t['category'] == category]
        tune = sum(t['split'] == 'tune' for t in group)
        assert abs(2 * tune - len(group)) <= 1, category


def test_split_is_reproducible(generator, tasks):
    stripped = [{k: v for k, v in t.items() if k != 'split'} for t in tasks]
    again = generator.split([dict(t) for t in stripped])
    assert [t['split'] for t in again] == [t['split'] for t in tasks]


def test_halves_are_disjoint(tasks):
    tune = {fold(t['task']) for t in tasks if t['split'] == 'tune'}
    test = {fold(t['task']) for t in tasks if t['split'] == 'test'}
    assert not tune & test
    assert len(tune) + len(test) == len(tasks), 'a task text appears twice'


def test_missing_skill_actions(tasks):
    missing = [t for t in tasks if t['category'] == 'missing_skill']
    for t in missing:
        assert t.get('error') == ErrorCode.UNSUPPORTED_TASK, t
        assert t.get('action'), t
    assert len({t['action'] for t in missing}) >= 40


def test_prompt_injections_are_refused(tasks):
    for t in tasks:
        if t['category'] == 'prompt_injection':
            assert t.get('error') == ErrorCode.UNSUPPORTED_TASK, t


def test_expected_programs_validate(tasks, catalog, eval_map):
    for t in tasks:
        if 'program' not in t:
            continue
        for text in [t['program']] + list(t.get('also') or []):
            steps = parse_program(text)
            validate(steps, catalog, eval_map)


def test_return_rules_hold_in_expected_programs(tasks):
    for t in tasks:
        if 'program' not in t:
            continue
        lines = [ln.strip() for ln in t['program'].strip().splitlines()]
        stores = lines[0] == '$start = GET_CURRENT_LOCATION()'
        returns = lines[-1] == 'GO(to:$start)'
        assert stores == returns, t
        if t['category'] in ('single_move', 'search_with_place', 'search_no_place',
                             'fetch_no_return', 'bring_to_room', 'several_rooms'):
            assert not stores, t
        if t['category'] == 'bring_to_speaker':
            assert stores, t
        if t['category'] == 'search_no_place':
            assert all('SEARCH(' in ln for ln in lines), t


def test_unknown_places_are_off_the_map(tasks, catalog, eval_map):
    unknown = [t for t in tasks if t.get('error') == ErrorCode.UNKNOWN_LOCATION]
    assert unknown
    for t in unknown:
        assert t['category'] == 'unknown_place', t
        place = t['place']
        assert eval_map.resolve(place) is None, t
        # A plan naming the place is refused by the validator with UNKNOWN_LOCATION.
        steps = parse_program(f'$p = GET_LOCATION(location_name:"{place}")\nGO(to:$p)')
        with pytest.raises(PlannerError) as info:
            validate(steps, catalog, eval_map)
        assert info.value.code == ErrorCode.UNKNOWN_LOCATION


def test_no_devset_task_is_in_the_example_bank(tasks):
    with open(CONFIG / 'examples.yaml', encoding='utf-8') as f:
        bank = {fold(e['task']) for e in yaml.safe_load(f)['examples']}
    clash = [t['task'] for t in tasks if fold(t['task']) in bank]
    assert not clash, clash


def test_eval_map_extends_the_default_map():
    with open(CONFIG / 'locations.yaml', encoding='utf-8') as f:
        default = yaml.safe_load(f)['locations']
    with open(EVAL / 'locations.yaml', encoding='utf-8') as f:
        extended = yaml.safe_load(f)['locations']
    for name, entry in default.items():
        assert extended.get(name) == entry, name
    extra = set(extended) - set(default)
    assert len(extra) >= 3
    # The extra rooms (and their aliases) are not what the example bank treats as unknown.
    with open(CONFIG / 'examples.yaml', encoding='utf-8') as f:
        refused = ' '.join(e['program'] for e in yaml.safe_load(f)['examples']
                           if e.get('expect') == ErrorCode.UNKNOWN_LOCATION)
    named = {normalize_place_name(n) for n in re.findall(r'location_name:"([^"]+)"', refused)}
    for name in extra:
        names = {name} | {normalize_place_name(a) for a in extended[name].get('aliases', [])}
        assert not names & named, name


def test_eval_selects_split_and_category(tasks):
    run_eval = _module('run_eval')
    test = run_eval.select_tasks(tasks, 'test')
    assert test and all(t['split'] == 'test' for t in test)
    assert len(run_eval.select_tasks(tasks, 'all')) == len(tasks)
    french = run_eval.select_tasks(tasks, 'tune', category='french')
    assert french and all(t['category'] == 'french' and t['split'] == 'tune' for t in french)
    assert run_eval.map_for(run_eval.DEVSET) == str(EVAL / 'locations.yaml')
    assert run_eval.map_for(str(EVAL / 'tasks.yaml')) is None  # the config's map
    assert run_eval.map_for(str(EVAL / 'tasks.yaml'), 'm.yaml') == os.path.abspath('m.yaml')
    old = run_eval.load_tasks(str(EVAL / 'tasks.yaml'))
    assert run_eval.select_tasks(old, 'test') == old  # no split: all of it


def test_shuffled_copies_keep_content(tmp_path):
    run_eval = _module('run_eval')
    from llm_planner.planning.config import PlannerConfig
    config = PlannerConfig.from_yaml(str(CONFIG / 'planner.yaml')).replace(
        locations_file=str(EVAL / 'locations.yaml'))
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    changes = run_eval.shuffled_copies(config, 3, str(tmp_path / 'a'))
    again = run_eval.shuffled_copies(config, 3, str(tmp_path / 'b'))
    for key in ('locations_file', 'examples_file'):
        assert os.path.isabs(changes[key])
        with open(changes[key], encoding='utf-8') as f, open(again[key], encoding='utf-8') as g:
            assert f.read() == g.read(), 'the same seed gives the same order'
    with open(changes['locations_file'], encoding='utf-8') as f:
        places = yaml.safe_load(f)['locations']
    with open(EVAL / 'locations.yaml', encoding='utf-8') as f:
        original = yaml.safe_load(f)['locations']
    assert places == original and list(places) != list(original)
    with open(changes['examples_file'], encoding='utf-8') as f:
        shuffled = yaml.safe_load(f)['examples']
    with open(config.examples_path, encoding='utf-8') as f:
        bank = yaml.safe_load(f)['examples']
    key = [e['task'] for e in bank]
    assert sorted(e['task'] for e in shuffled) == sorted(key)
    assert [e['task'] for e in shuffled] != key
    n_core = sum(bool(e.get('core')) for e in bank)
    assert all(e.get('core') for e in shuffled[:n_core])
    assert SemanticMap.load(changes['locations_file']).names == list(places)


def test_eval_headline_figures():
    run_eval = _module('run_eval')

    def rec(category, expected_error, code, exact, latency=1.0):
        return {'category': category, 'expected_error': expected_error, 'code': code,
                'exact': exact, 'latency': latency}

    unsupported, unknown = ErrorCode.UNSUPPORTED_TASK, ErrorCode.UNKNOWN_LOCATION
    figures = run_eval.figures_of([
        rec('single_move', None, None, True, 1.0),
        rec('single_move', None, unsupported, False, 3.0),
        rec('search_no_place', None, unknown, False, 2.0),
        rec('search_no_place', None, None, False, 1.5),
        rec('missing_skill', unsupported, unsupported, True, 0.5),
        rec('missing_skill', unsupported, None, False, 1.2),
        rec('unknown_place', unknown, unknown, True, 0.4),
        rec('prompt_injection', unsupported, ErrorCode.INVALID_PLAN, False, 0.2),
    ])
    assert figures['exact'] == pytest.approx(100 * 3 / 8)
    assert figures['missing_skill_refused'] == pytest.approx(50.0)
    assert figures['doable_refused'] == pytest.approx(50.0)  # 2 of the 4 doable
    assert figures['valid'] == pytest.approx(100 * 7 / 8)
    assert figures['error_code_accuracy'] == pytest.approx(100 * 2 / 4)
    assert figures['categories']['single_move'] == {'n': 2, 'exact_n': 1, 'exact': 50.0}
    assert figures['plan_latency_median'] == pytest.approx(1.2)
    assert figures['refusal_latency_median'] == pytest.approx(1.25)  # 3.0, 2.0, 0.5, 0.4
    empty = run_eval.figures_of([rec('single_move', None, None, True)])
    assert empty['missing_skill_refused'] is None and empty['refusal_latency_median'] is None


def test_compare_runs_gives_the_shuffle_figure():
    compare_runs = _module('compare_runs')

    def run(exact, outcomes, shuffle=None):
        return {'shuffle': shuffle,
                'figures': {'exact': exact, 'missing_skill_refused': None,
                            'doable_refused': 0.0},
                'results': [{'task': t, 'exact': ok} for t, ok in outcomes.items()]}

    lines = []
    worst = compare_runs.compare(
        [run(75.0, {'a': True, 'b': True, 'c': False, 'd': True}),
         run(50.0, {'a': True, 'b': False, 'c': False, 'd': False}, shuffle=1),
         run(100.0, {'a': True, 'b': True, 'c': True, 'd': True}, shuffle=2)],
        ['base', 's1', 's2'], out=lines.append)
    assert worst == pytest.approx(25.0)
    text = '\n'.join(lines)
    assert 's1: 2 tasks flipped' in text and 's2: 1 tasks flipped' in text
    assert 'FAIL->ok  c' in text and 'ok->FAIL  d' in text
