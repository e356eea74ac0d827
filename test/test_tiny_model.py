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
"""The tiny GGUF model and LlamaBackend: loading, grammar-constrained decoding, errors."""

import os
import pathlib
import re
import struct
import threading
import time

from llm_planner.backends import check_gguf_file, Completion, LlamaBackend
from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.testing.tiny_model import main as tiny_main, tiny_vocab, write_tiny_gguf
import pytest

pytest_plugins = ['fixtures_inference']
pytest.importorskip('llama_cpp')

ROOT = pathlib.Path(__file__).resolve().parent.parent

GO_GRAMMAR = 'root ::= "GO(" [a-z]{1,8} ")"'
GO_RE = re.compile(r'GO\([a-z]{1,8}\)')

PLAN_GRAMMAR = r"""
root ::= step ("\n" step){0,2}
step ::= "GO(" place ")" | "SEARCH(\"" [a-z]{1,6} "\")" | "WAIT"
place ::= "kitchen" | "hall" | "$" [a-z] [a-z0-9_]{0,5}
"""
_STEP = r'(?:GO\((?:kitchen|hall|\$[a-z][a-z0-9_]{0,5})\)|SEARCH\("[a-z]{1,6}"\)|WAIT)'
PLAN_RE = re.compile(f'{_STEP}(?:\\n{_STEP}){{0,2}}')

PROMPTS = [
    'Task: go to the kitchen\nProgram:\n',
    'Task: find the banana and grab it\nProgram:\n',
    'Aufgabe: geh in die Küche — ünïcödé ✓\n',
    '',
]


def backend(path, **kwargs):
    """Load a single-threaded LlamaBackend on ``path`` (robust on a busy machine)."""
    kwargs.setdefault('n_threads', 1)
    b = LlamaBackend(path, **kwargs)
    b.load()
    return b


@pytest.fixture(scope='module')
def tiny(tiny_gguf):
    """Return a loaded LlamaBackend on the tiny model, shared by the module."""
    b = backend(tiny_gguf)
    yield b
    b.close()


# -- the file ----------------------------------------------------------------

def test_tiny_gguf_is_small_deterministic_and_well_formed(tmp_path):
    import gguf

    a = write_tiny_gguf(tmp_path / 'a.gguf', seed=7)
    b = write_tiny_gguf(tmp_path / 'b.gguf', seed=7)
    c = write_tiny_gguf(tmp_path / 'c.gguf', seed=8)
    data = pathlib.Path(a).read_bytes()
    assert 100_000 < len(data) < 1_000_000
    assert data == pathlib.Path(b).read_bytes()
    assert data != pathlib.Path(c).read_bytes()
    assert sorted(os.listdir(tmp_path)) == ['a.gguf', 'b.gguf', 'c.gguf']  # no temp files left

    reader = gguf.GGUFReader(a)
    fields = reader.fields

    def scalar(key):
        field = fields[key]
        value = field.parts[field.data[0]]
        if field.types[0] == gguf.GGUFValueType.STRING:
            return bytes(value).decode()
        return value[0]

    assert scalar('general.architecture') == 'llama'
    assert scalar('tokenizer.ggml.model') == 'llama'
    assert scalar('llama.context_length') == 2048
    assert scalar('llama.block_count') == 2
    assert scalar('tokenizer.ggml.bos_token_id') == 1
    assert scalar('tokenizer.ggml.eos_token_id') == 2
    assert 'tokenizer.chat_template' not in fields
    tokens, _, types = tiny_vocab()
    assert len(tokens) == 259 and tokens[3] == '<0x00>' and tokens[-1] == '<0xFF>'
    stored_types = [int(fields['tokenizer.ggml.token_type'].parts[i][0])
                    for i in fields['tokenizer.ggml.token_type'].data]
    assert stored_types == types
    assert all(t.tensor_type == gguf.GGMLQuantizationType.F32 for t in reader.tensors)


def test_cli_writes_a_model(tmp_path, capsys):
    out = tmp_path / 'cli.gguf'
    assert tiny_main([str(out), '--seed', '5']) == 0
    assert out.stat().st_size > 100_000
    assert 'cli.gguf' in capsys.readouterr().out
    check_gguf_file(out)


def test_loads_in_milliseconds_and_reports_info(tiny_gguf):
    b = LlamaBackend(tiny_gguf, n_ctx=512, n_threads=1)
    b.load()
    try:
        assert b.load_seconds < 1.0
        info = b.info()
        assert info['backend'] == 'llama.cpp'
        assert info['model_path'] == tiny_gguf
        assert info['n_ctx'] == 512
        assert info['n_gpu_layers'] == 0
        assert info['n_vocab'] == 259
        assert info['chat_template'] is False
        b.load()  # loading twice is a no-op
    finally:
        b.close()
    assert b.info()['loaded'] is False


# -- decoding under grammars -------------------------------------------------

@pytest.mark.parametrize('seed', [0, 1, 2])
@pytest.mark.parametrize('prompt', PROMPTS)
def test_generation_matches_a_simple_grammar(tiny_gguf_seeds, seed, prompt):
    b = backend(tiny_gguf_seeds[seed])
    try:
        c = b.complete(prompt, GO_GRAMMAR, 32)
    finally:
        b.close()
    assert isinstance(c, Completion)
    assert GO_RE.fullmatch(c.text), c.text
    assert c.finish_reason == 'stop'
    assert c.tokens_generated == len(c.text.encode())  # one byte token per byte
    assert c.tokens_prompt >= 1 and c.seconds >= 0


@pytest.mark.parametrize('seed', [0, 1, 2])
@pytest.mark.parametrize('prompt', PROMPTS[:3])
def test_generation_matches_alternatives_and_bounded_repetition(tiny_gguf_seeds, seed, prompt):
    b = backend(tiny_gguf_seeds[seed])
    try:
        c = b.complete(prompt, PLAN_GRAMMAR, 200)
    finally:
        b.close()
    assert PLAN_RE.fullmatch(c.text), repr(c.text)
    assert c.finish_reason == 'stop'


def test_generation_matches_the_project_plan_grammar(tiny):
    from llm_planner.core.catalog import SkillCatalog
    from llm_planner.planning.grammar import build_gbnf
    from llm_planner.core.program import parse_program
    from llm_planner.core.semantic_map import SemanticMap

    catalog = SkillCatalog.load(ROOT / 'config' / 'skills.yaml')
    places = SemanticMap.load(ROOT / 'config' / 'locations.yaml')
    grammar = build_gbnf(catalog, places, max_steps=3)
    for task in ('go to the kitchen', 'grab a banana', 'dance'):
        # string literals may take 48 characters of up to 4 byte tokens each
        c = tiny.complete(f'Task: {task}\nProgram:\n', grammar, 1500)
        assert c.finish_reason == 'stop', repr(c.text)
        parse_program(c.text)  # raises if not a program


def test_max_tokens_cuts_generation(tiny):
    c = tiny.complete('x', 'root ::= [a-z]{50}', 5)
    assert c.finish_reason == 'length'
    assert c.tokens_generated == 5
    assert re.fullmatch('[a-z]{5}', c.text)


def test_no_grammar_generates_freely(tiny):
    c = tiny.complete('hello', '', 16)
    assert c.tokens_generated <= 16


def test_invalid_grammar_is_an_error_not_a_crash(tiny):
    with pytest.raises(PlannerError) as e:
        tiny.complete('x', 'root ::= "GO(" [a-z{1,8} ")"', 8)
    assert e.value.code == ErrorCode.INTERNAL_ERROR
    assert GO_RE.fullmatch(tiny.complete('x', GO_GRAMMAR, 32).text)


def test_prompt_longer_than_the_context_is_refused(tiny_gguf):
    b = backend(tiny_gguf, n_ctx=64)
    try:
        with pytest.raises(PlannerError) as e:
            b.complete('word ' * 100, GO_GRAMMAR, 8)
        assert e.value.code == ErrorCode.CONTEXT_OVERFLOW
        assert 'does not fit the context' in e.value.message
        assert GO_RE.fullmatch(b.complete('short', GO_GRAMMAR, 16).text)
    finally:
        b.close()


def test_prefix_longer_than_the_context_is_refused(tiny_gguf):
    b = backend(tiny_gguf, n_ctx=64)
    try:
        with pytest.raises(PlannerError) as e:
            b.warm('word ' * 100)
        assert e.value.code == ErrorCode.CONTEXT_OVERFLOW
        assert 'prefix' in e.value.message and 'does not fit the context' in e.value.message
        b.warm('short')
        assert GO_RE.fullmatch(b.complete('short and more', GO_GRAMMAR, 16).text)
    finally:
        b.close()


# -- KV cache reuse, determinism, threads ------------------------------------

def test_warm_prefix_is_reused_and_results_do_not_depend_on_the_cache(tiny_gguf):
    prefix = 'You write robot programs. Skills: GO, SEARCH, WAIT.\n' * 4
    tasks = ['Task: go to the hall\n', 'Task: wait\n', 'Task: search the cup\n']
    fresh = []
    for task in tasks:
        b = backend(tiny_gguf)
        fresh.append(b.complete(prefix + task, PLAN_GRAMMAR, 200).text)
        b.close()

    b = backend(tiny_gguf)
    try:
        b.warm(prefix)
        n_prefix = b.info()['prefix_tokens']
        assert n_prefix > 100
        for _ in range(2):
            for task, expected in zip(tasks, fresh):
                c = b.complete(prefix + task, PLAN_GRAMMAR, 200)
                assert c.text == expected
                assert c.tokens_cached >= n_prefix - 1
                assert c.tokens_prompt > n_prefix
    finally:
        b.close()


def test_concurrent_requests_are_serialized(tiny):
    prompts = [f'Task {i}: go somewhere\n' for i in range(6)]
    expected = {p: tiny.complete(p, PLAN_GRAMMAR, 200).text for p in prompts}
    results, errors = {}, []

    def worker(p):
        try:
            results[p] = tiny.complete(p, PLAN_GRAMMAR, 200).text
        except Exception as e:  # noqa: B902 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(p,)) for p in prompts * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert results == expected


# -- deadlines -----------------------------------------------------------------

def test_passed_deadline_times_out_at_once(tiny):
    with pytest.raises(PlannerError) as e:
        tiny.complete('x', GO_GRAMMAR, 32, deadline=time.monotonic() - 1)
    assert e.value.code == ErrorCode.TIMEOUT


def test_deadline_stops_a_long_generation(tiny):
    start = time.monotonic()
    with pytest.raises(PlannerError) as e:
        tiny.complete('y', 'root ::= [a-z]{1800}', 1800, deadline=start + 0.02)
    assert e.value.code == ErrorCode.TIMEOUT
    assert time.monotonic() - start < 2.0
    # the backend is still usable afterwards
    assert GO_RE.fullmatch(tiny.complete('y', GO_GRAMMAR, 32).text)


def test_deadline_while_waiting_for_a_busy_model(tiny):
    started = threading.Event()

    def long_request():
        started.set()
        tiny.complete('z', 'root ::= [a-z]{1500}', 1500)

    t = threading.Thread(target=long_request)
    t.start()
    started.wait()
    time.sleep(0.05)
    with pytest.raises(PlannerError) as e:
        tiny.complete('w', GO_GRAMMAR, 32, deadline=time.monotonic() + 0.01)
    t.join(60)
    assert e.value.code == ErrorCode.TIMEOUT


# -- chat templates ------------------------------------------------------------

def test_no_chat_template_gives_none(tiny):
    assert tiny.chat_template_prompt([{'role': 'user', 'content': 'hi'}]) is None


def test_chat_template_renders_up_to_the_assistant_turn(tiny_gguf_chat):
    b = backend(tiny_gguf_chat)
    try:
        assert b.info()['chat_template'] is True
        prompt = b.chat_template_prompt([
            {'role': 'system', 'content': 'You plan.'},
            {'role': 'user', 'content': 'Go to the kitchen'},
        ])
        assert prompt == ('<|im_start|>system\nYou plan.<|im_end|>\n'
                          '<|im_start|>user\nGo to the kitchen<|im_end|>\n'
                          '<|im_start|>assistant\n')
        assert GO_RE.fullmatch(b.complete(prompt, GO_GRAMMAR, 32).text)
    finally:
        b.close()


# -- model files that cannot be used -------------------------------------------

def assert_unavailable(path, *fragments):
    """Check that loading ``path`` fails cleanly with MODEL_UNAVAILABLE."""
    b = LlamaBackend(path, n_threads=1)
    with pytest.raises(PlannerError) as e:
        b.load()
    assert e.value.code == ErrorCode.MODEL_UNAVAILABLE
    for fragment in fragments:
        assert fragment in e.value.message
    assert b.info()['loaded'] is False
    with pytest.raises(PlannerError) as e:
        b.complete('x', GO_GRAMMAR, 8)
    assert e.value.code == ErrorCode.MODEL_UNAVAILABLE
    return e.value


def test_missing_file(tmp_path):
    assert_unavailable(str(tmp_path / 'nope.gguf'), 'not found', 'nope.gguf')


def test_no_path():
    assert_unavailable('', 'no model file')


def test_directory(tmp_path):
    assert_unavailable(str(tmp_path), 'not a file')


def test_empty_file(tmp_path):
    path = tmp_path / 'empty.gguf'
    path.write_bytes(b'')
    assert_unavailable(str(path), 'not a GGUF')


@pytest.mark.parametrize('seed', [0, 1])
def test_random_bytes(tmp_path, seed):
    import random

    path = tmp_path / 'random.gguf'
    path.write_bytes(random.Random(seed).randbytes(300_000))
    assert_unavailable(str(path), 'not a GGUF')


def test_gguf_magic_then_garbage(tmp_path):
    import random

    path = tmp_path / 'garbage.gguf'
    path.write_bytes(b'GGUF' + struct.pack('<I', 3) + random.Random(3).randbytes(100_000))
    assert_unavailable(str(path), 'llama.cpp could not load')


def test_unsupported_version(tmp_path):
    path = tmp_path / 'v9.gguf'
    path.write_bytes(b'GGUF' + struct.pack('<IQQ', 9, 0, 0))
    assert_unavailable(str(path), 'version 9')


@pytest.mark.parametrize('fraction', [0.0001, 0.01, 0.1, 0.5, 0.999])
def test_truncated_gguf(tiny_gguf, tmp_path, fraction):
    data = pathlib.Path(tiny_gguf).read_bytes()
    cut = max(10, int(len(data) * fraction))
    path = tmp_path / 'truncated.gguf'
    path.write_bytes(data[:cut])
    assert_unavailable(str(path), 'truncated.gguf')


def test_unreadable_file(tiny_gguf, tmp_path):
    if os.geteuid() == 0:
        pytest.skip('root reads files whatever their mode')
    path = tmp_path / 'locked.gguf'
    path.write_bytes(pathlib.Path(tiny_gguf).read_bytes())
    path.chmod(0)
    assert_unavailable(str(path), 'cannot read')


def test_backend_can_be_closed_and_loaded_again(tiny_gguf):
    b = backend(tiny_gguf)
    first = b.complete('again', GO_GRAMMAR, 32).text
    b.close()
    with pytest.raises(PlannerError):
        b.complete('again', GO_GRAMMAR, 32)
    b.load()
    try:
        assert b.complete('again', GO_GRAMMAR, 32).text == first
    finally:
        b.close()
