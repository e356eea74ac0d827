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
KV state files (llm_planner.decoding.kv_state_cache): a restart restores the evaluated prompt.

What must hold: a restored state computes exactly what a fresh evaluation
does (logits bitwise, plans on every eval task); a truncated, corrupt,
foreign (other model), other-format or llama.cpp-refused file is ignored with
one warning and rebuilt, never a crash nor a wrong plan; anything in the key
that changes (model file, llama.cpp version, n_ctx, prompt) misses; the
folder stays within its bound, least recently used files going first.
"""

import glob
import os
import time
import zlib

import llama_cpp
from llm_planner.backends import LlamaBackend
from llm_planner.core.catalog import SkillCatalog
from llm_planner.core.errors import PlannerError
from llm_planner.core.semantic_map import SemanticMap
from llm_planner.decoding import kv_state_cache
from llm_planner.decoding.kv_state_cache import HEADER, KvStateCache
from llm_planner.planning.config import PlannerConfig
from llm_planner.planning.grammar import build_gbnf
from llm_planner.planning.planner import Planner
import numpy as np
import pytest
import yaml

pytest_plugins = ['planning_fixtures']

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
CONFIG = os.path.join(ROOT, 'config')

PREFIX = '<|im_start|>system\nPlan robot tasks.<|im_end|>\n<|im_start|>user\n'
SEGMENTS = [
    'Go to the kitchen<|im_end|>\n<|im_start|>assistant\n'
    '$kitchen = GET_LOCATION(location_name:"kitchen")\nGO(to:$kitchen)<|im_end|>\n'
    '<|im_start|>user\n',
    'Find the keys<|im_end|>\n<|im_start|>assistant\n'
    '$keys = SEARCH(object_name:"keys")<|im_end|>\n<|im_start|>user\n',
    'Grab a cup<|im_end|>\n<|im_start|>assistant\n'
    '$cup = SEARCH(object_name:"cup")\nGRAB(where:$cup)<|im_end|>\n<|im_start|>user\n',
]
ORDERS = [[0], [2, 0], [1, 2, 0], [], [1]]
TASKS = ['Go to the office and grab a pen', 'Find my phone', 'go to the bedroom']


def prompt(order, task):
    return PREFIX + ''.join(SEGMENTS[i] for i in order) + task + \
        '<|im_end|>\n<|im_start|>assistant\n'


def eval_tasks():
    with open(os.path.join(ROOT, 'eval', 'tasks.yaml'), encoding='utf-8') as f:
        return [entry['task'] for entry in yaml.safe_load(f)['tasks']]


# --- the file format, without a model -------------------------------------------

class Warnings(list):
    """A log callable collecting warning lines."""

    def __call__(self, line):
        assert '\n' not in line
        self.append(line)


def digest(n):
    return bytes([n]) * 32


def payload(n, size=1000):
    return bytearray(((i * 7 + n) % 251 for i in range(size)))


def test_a_saved_state_loads_back(tmp_path):
    log = Warnings()
    cache = KvStateCache(tmp_path / 'kv', 1 << 20, log=log)
    assert cache.load(digest(1)) is None and log == []  # no file: a plain miss
    path = cache.save(digest(1), '{"model": 1}', payload(1))
    assert path == cache.path_for(digest(1)) and os.path.isfile(path)
    assert bytes(cache.load(digest(1))) == bytes(payload(1))
    assert log == []
    assert [p for p in os.listdir(tmp_path / 'kv') if p.endswith('.tmp')] == []


def _damage(path, kind, other):
    data = bytearray(open(path, 'rb').read())
    if kind == 'truncated':
        data = data[:len(data) - 100]
    elif kind == 'truncated_header':
        data = data[:HEADER.size - 5]
    elif kind == 'empty':
        data = bytearray()
    elif kind == 'padded':
        data += b'\0' * 16
    elif kind == 'corrupt':
        data[len(data) // 2] ^= 0x10
    elif kind == 'bad_magic':
        data[:8] = b'GGUF\0\0\0\0'
    elif kind == 'other_format_version':
        HEADER.pack_into(data, 0, *((HEADER.unpack_from(data)[0],
                                     kv_state_cache.FORMAT_VERSION + 1)
                                    + HEADER.unpack_from(data)[2:]))
    elif kind == 'foreign':
        data = bytearray(open(other, 'rb').read())
    with open(path, 'wb') as f:
        f.write(data)


@pytest.mark.parametrize('kind, why', [
    ('truncated', 'truncated'), ('truncated_header', 'truncated'), ('empty', 'truncated'),
    ('padded', 'padded'), ('corrupt', 'checksum'), ('bad_magic', 'magic'),
    ('other_format_version', 'format version'), ('foreign', 'another model')])
def test_a_damaged_or_foreign_file_is_ignored_with_one_warning(tmp_path, kind, why):
    log = Warnings()
    cache = KvStateCache(tmp_path, 1 << 20, log=log)
    path = cache.save(digest(1), '{"model": 1}', payload(1))
    other = cache.save(digest(2), '{"model": 2}', payload(2))
    _damage(path, kind, other)
    assert cache.load(digest(1)) is None
    assert len(log) == 1 and why in log[0] and path in log[0], log
    # Written again, it is used again.
    cache.save(digest(1), '{"model": 1}', payload(1))
    assert bytes(cache.load(digest(1))) == bytes(payload(1))
    assert len(log) == 1


def test_the_folder_keeps_to_its_bound_least_recently_used_first(tmp_path):
    log = Warnings()
    size = HEADER.size + 2 + 1000
    cache = KvStateCache(tmp_path, 3 * size, log=log)
    paths = [cache.save(digest(n), '{}', payload(n)) for n in (1, 2, 3)]
    for age, path in zip((300, 200, 100), paths):  # 1 oldest, 3 newest
        t = time.time() - age
        os.utime(path, (t, t))
    assert cache.load(digest(1)) is not None  # a hit makes 1 the most recent
    cache.save(digest(4), '{}', payload(4))
    left = sorted(os.path.basename(p) for _, _, p in cache.entries())
    assert left == sorted(os.path.basename(cache.path_for(digest(n))) for n in (1, 3, 4))
    assert sum(s for _, s, _ in cache.entries()) <= cache.max_bytes
    # Replacing a file does not count it twice.
    cache.save(digest(4), '{}', payload(5))
    assert len(cache.entries()) == 3 and log == []
    # Other files in the folder are never touched.
    (tmp_path / 'notes.txt').write_text('mine')
    cache.save(digest(6), '{}', payload(6))
    assert (tmp_path / 'notes.txt').read_text() == 'mine'
    assert len(cache.entries()) == 3


def test_a_state_larger_than_the_bound_is_not_saved(tmp_path):
    log = Warnings()
    cache = KvStateCache(tmp_path, 500, log=log)
    assert cache.save(digest(1), '{}', payload(1)) is None
    assert len(log) == 1 and 'kv_cache_max_mb' in log[0]
    assert cache.entries() == []


def test_an_unwritable_folder_is_a_warning_not_an_error(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')
    log = Warnings()
    cache = KvStateCache(blocker / 'kv', 1 << 20, log=log)
    assert cache.save(digest(1), '{}', payload(1)) is None
    assert len(log) == 1 and 'cannot write' in log[0]
    assert cache.load(digest(1)) is None


def test_stale_temporary_files_are_removed(tmp_path):
    cache = KvStateCache(tmp_path, 1 << 20)
    stale = tmp_path / 'kv-0123.kvstate.abc.tmp'
    fresh = tmp_path / 'kv-4567.kvstate.def.tmp'
    stale.write_bytes(b'x')
    fresh.write_bytes(b'x')
    old = time.time() - 2 * kv_state_cache.STALE_TMP_SECONDS
    os.utime(stale, (old, old))
    cache.save(digest(1), '{}', payload(1))
    assert not stale.exists() and fresh.exists()


def test_the_cache_folder_setting(monkeypatch, tmp_path):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert kv_state_cache.resolve_cache_dir('auto') == str(tmp_path / 'xdg' / 'llm_planner')
    monkeypatch.delenv('XDG_CACHE_HOME')
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert kv_state_cache.resolve_cache_dir('auto') == \
        str(tmp_path / 'home' / '.cache' / 'llm_planner')
    assert kv_state_cache.resolve_cache_dir('') is None
    assert kv_state_cache.resolve_cache_dir('  ') is None
    assert kv_state_cache.resolve_cache_dir('~/kv') == str(tmp_path / 'home' / 'kv')
    monkeypatch.chdir(tmp_path)
    assert kv_state_cache.resolve_cache_dir('rel') == str(tmp_path / 'rel')
    assert PlannerConfig().kv_cache_dir == 'auto'
    assert PlannerConfig.from_dict({'kv_cache_dir': ''}).kv_cache_path is None
    with pytest.raises(ValueError, match='kv_cache_max_mb'):
        PlannerConfig.from_dict({'kv_cache_max_mb': 0})


def test_tests_do_not_write_to_the_users_cache():
    """conftest.py points the default folder at a temporary folder of the run."""
    home_cache = os.path.join(os.path.expanduser('~'), '.cache', 'llm_planner')
    assert PlannerConfig().kv_cache_path != home_cache
    assert 'llm_planner_cache_' in PlannerConfig().kv_cache_path


# --- with a model ----------------------------------------------------------------

@pytest.fixture(scope='module')
def models(tiny_files):
    return {'bytes': tiny_files.path(3), 'other': tiny_files.path(4),
            # A seed whose random weights write plans (not refusals) under the grammar.
            'planner': tiny_files.path(2), 'bpe': tiny_files.path(2, 'bpe')}


@pytest.fixture(scope='module')
def gbnf():
    catalog = SkillCatalog.load(os.path.join(CONFIG, 'skills.yaml'))
    semantic_map = SemanticMap.load(os.path.join(CONFIG, 'locations.yaml'))
    return build_gbnf(catalog, semantic_map)


def make_backend(path, folder, log=None, n_ctx=4096, prefix=PREFIX):
    cache = KvStateCache(folder, 64 << 20, log=Warnings() if log is None else log) \
        if folder else None
    backend = LlamaBackend(path, n_ctx=n_ctx, n_threads=1, max_batch=8,
                           max_segments=len(SEGMENTS), state_cache=cache)
    backend.load()
    backend.warm(prefix, segments=SEGMENTS, reserve=512)
    return backend


def outputs(backend, gbnf):
    """Return, per prompt, the logits after it (bitwise) and the decoded text."""
    out = []
    for order in ORDERS:
        for task in TASKS:
            text = prompt(order, task)
            backend.complete(text, gbnf, 1)
            logits = backend.session.logits(-1).copy()
            completion = backend.complete(text, gbnf, 40)
            out.append((logits, completion.text, completion.tokens_cached))
    return out


def assert_same(a, b):
    assert len(a) == len(b)
    for (logits_a, text_a, cached_a), (logits_b, text_b, cached_b) in zip(a, b):
        assert np.array_equal(logits_a, logits_b)
        assert text_a == text_b
        assert cached_a == cached_b


@pytest.fixture(scope='module')
def reference(models, gbnf):
    """Return each model's outputs with the prompt evaluated afresh (no state file)."""
    out = {}
    for name in ('bytes', 'other', 'bpe'):
        backend = make_backend(models[name], None)
        try:
            assert backend.info()['kv_cache'] == 'off'
            out[name] = outputs(backend, gbnf)
        finally:
            backend.close()
    return out


@pytest.mark.parametrize('model', ['bytes', 'bpe'])
def test_a_restored_state_computes_what_a_fresh_evaluation_does(
        models, gbnf, reference, tmp_path, model):
    log = Warnings()
    first = make_backend(models[model], tmp_path, log)
    try:
        assert first.state_cache_result == 'miss'
        assert_same(outputs(first, gbnf), reference[model])
    finally:
        first.close()
    assert len(glob.glob(str(tmp_path / 'kv-*.kvstate'))) == 1
    second = make_backend(models[model], tmp_path, log)
    try:
        assert second.state_cache_result == 'hit'
        info = second.info()
        assert info['cached_segments'] == len(second._segments.segments) >= 1
        assert info['prefix_tokens'] == len(second.session.text_tokens(PREFIX))
        # Bitwise the same logits after every prompt, the same text, and only
        # the task evaluated (the prefix and examples came from the file).
        assert_same(outputs(second, gbnf), reference[model])
    finally:
        second.close()
    assert log == []


@pytest.mark.parametrize('kind', ['truncated', 'corrupt', 'other_format_version',
                                  'wrong_model', 'refused_by_llama_cpp'])
def test_a_bad_cache_file_is_rebuilt_and_the_plans_stay_right(models, gbnf, reference,
                                                              tmp_path, kind):
    log = Warnings()
    make_backend(models['bytes'], tmp_path, log).close()
    path, = glob.glob(str(tmp_path / 'kv-*.kvstate'))
    if kind == 'wrong_model':
        # The other model's state under this model's file name.
        other_dir = tmp_path / 'other'
        make_backend(models['other'], other_dir, log).close()
        other, = glob.glob(str(other_dir / 'kv-*.kvstate'))
        _damage(path, 'foreign', other)
    elif kind == 'refused_by_llama_cpp':
        # A well-formed file (key, lengths, checksum right) whose state is cut
        # short: only llama.cpp can tell, and it refuses it.
        data = bytearray(open(path, 'rb').read())
        magic, version, json_len, key, size, _ = HEADER.unpack_from(data)
        meta = data[HEADER.size:HEADER.size + json_len]
        state = data[HEADER.size + json_len:HEADER.size + json_len + size // 2]
        with open(path, 'wb') as f:
            f.write(HEADER.pack(magic, version, json_len, key, len(state),
                                zlib.crc32(state, zlib.crc32(meta))))
            f.write(meta + state)
    else:
        _damage(path, kind, None)
    assert log == []
    backend = make_backend(models['bytes'], tmp_path, log)
    try:
        assert len(log) == 1 and path in log[0], log
        assert backend.state_cache_result == 'miss'  # evaluated and written again
        assert_same(outputs(backend, gbnf), reference['bytes'])
    finally:
        backend.close()
    again = make_backend(models['bytes'], tmp_path, log)
    try:
        assert again.state_cache_result == 'hit' and len(log) == 1
        assert_same(outputs(again, gbnf), reference['bytes'])
    finally:
        again.close()


@pytest.mark.parametrize('change', ['llama_cpp_version', 'model_file_touched', 'other_model',
                                    'n_ctx', 'prompt'])
def test_whatever_changes_the_state_changes_the_key(models, tmp_path, monkeypatch, change):
    log = Warnings()
    make_backend(models['bytes'], tmp_path, log).close()
    first, = glob.glob(str(tmp_path / 'kv-*.kvstate'))
    kwargs = {}
    path = models['bytes']
    if change == 'llama_cpp_version':
        monkeypatch.setattr(llama_cpp, '__version__', llama_cpp.__version__ + '.post1')
    elif change == 'model_file_touched':
        later = os.stat(path).st_mtime + 10
        os.utime(path, (later, later))
    elif change == 'other_model':
        path = models['other']
    elif change == 'n_ctx':
        kwargs['n_ctx'] = 2048
    elif change == 'prompt':
        kwargs['prefix'] = PREFIX.replace('Plan', 'Plan the')
    backend = make_backend(path, tmp_path, log, **kwargs)
    try:
        assert backend.state_cache_result == 'miss'
    finally:
        backend.close()
    assert len(glob.glob(str(tmp_path / 'kv-*.kvstate'))) == 2
    assert os.path.isfile(first) and log == []


def covering_tasks(prompt_builder, tasks):
    """
    Return few of ``tasks`` whose prompts together show every example that any of them shows.

    Greedy set cover over the examples each task's prompt selects; with six
    examples a prompt, about 20 of the 72 eval tasks show 68 of the 71
    cached examples (all 72 at two a prompt showed 57).
    """
    shown = {task: {e.task for e in prompt_builder.select(task)} for task in tasks}
    left = set().union(*shown.values())
    chosen = []
    while left:
        task = max(tasks, key=lambda t: len(shown[t] & left))
        chosen.append(task)
        left -= shown[task]
    return chosen, set().union(*shown.values())


def test_restored_plans_are_those_of_a_fresh_planner_over_every_cached_example(
        models, tiny_config, tmp_path):
    """
    The planner with the example bank cached: cold (file written) vs warm (file read).

    Every cached example that an eval task's prompt shows is lent to some
    prompt here, six to a prompt, each moved to its place in it.
    """
    config = tiny_config(models['planner'], n_ctx=32768, num_examples=6, cache_examples=True,
                         max_steps=2, max_tokens=256, kv_cache_dir=str(tmp_path))
    results = []
    tasks = None
    for expected in ('miss', 'hit'):
        planner = Planner(config)
        try:
            planner.load()
            info = planner.info()
            assert info['kv_cache'] == expected
            assert info['cached_segments'] == len(planner.prompt_builder.pool)
            if tasks is None:
                tasks, examples = covering_tasks(planner.prompt_builder, eval_tasks())
                assert len(examples) >= len(planner.prompt_builder.pool) * 9 // 10, examples
            outcome = []
            for task in tasks:
                try:
                    result = planner.plan(task)
                    outcome.append(('ok', result.raw_output, result.program,
                                    result.details.get('prompt_tokens_evaluated')))
                except PlannerError as e:
                    outcome.append((e.code, getattr(e, 'raw_output', None)))
            results.append(outcome)
        finally:
            planner.close()
    cold, warm = results
    assert len(cold) == len(tasks) >= 10
    assert sum(1 for o in cold if o[0] == 'ok') >= len(cold) // 2  # the model wrote plans
    for task, a, b in zip(tasks, cold, warm):
        assert a == b, task


@pytest.mark.parametrize('step', ['read_context_state', 'write_context_state'])
def test_a_failure_saving_or_restoring_is_a_warning_not_a_failed_load(models, gbnf, reference,
                                                                      tmp_path, monkeypatch,
                                                                      step):
    log = Warnings()
    if step == 'write_context_state':
        make_backend(models['bytes'], tmp_path, log).close()  # a good file to restore

    def fail(*args):
        raise MemoryError('no room for the state')

    monkeypatch.setattr(kv_state_cache, step, fail)
    backend = make_backend(models['bytes'], tmp_path, log)
    try:
        assert len(log) == 1 and 'MemoryError' in log[0], log
        assert backend.state_cache_result == ('unsaved' if step == 'read_context_state'
                                              else 'miss')
        assert_same(outputs(backend, gbnf), reference['bytes'])
    finally:
        backend.close()
