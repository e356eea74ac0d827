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
"""HttpBackend against a real llama_cpp.server on the tiny model, and a fake server."""

import http.server
import json
import re
import threading
import time

from llm_planner.backends import HttpBackend
from llm_planner.core.errors import ErrorCode, PlannerError
import pytest

pytest_plugins = ['fixtures_inference']

GO_GRAMMAR = 'root ::= "GO(" [a-z]{1,8} ")"'
GO_RE = re.compile(r'GO\([a-z]{1,8}\)')
PLAN_GRAMMAR = r"""
root ::= step ("\n" step){0,2}
step ::= "GO(" place ")" | "SEARCH(\"" [a-z]{1,6} "\")" | "WAIT"
place ::= "kitchen" | "hall" | "$" [a-z] [a-z0-9_]{0,5}
"""
_STEP = r'(?:GO\((?:kitchen|hall|\$[a-z][a-z0-9_]{0,5})\)|SEARCH\("[a-z]{1,6}"\)|WAIT)'
PLAN_RE = re.compile(f'{_STEP}(?:\\n{_STEP}){{0,2}}')
# Long enough to keep the tiny model's server busy for a while.
LONG_GRAMMAR = 'root ::= [a-z]{1500}'


# -- against llama_cpp.server --------------------------------------------------

@pytest.fixture
def server_backend(llama_server):
    """Return a loaded HttpBackend on the session's llama_cpp.server."""
    b = HttpBackend(llama_server, connect_timeout=2.0, read_timeout=60.0)
    b.load()
    yield b
    b.close()


def test_load_picks_the_served_model(server_backend, tiny_gguf):
    info = server_backend.info()
    assert info['backend'] == 'http'
    assert info['loaded'] is True
    assert info['model'] == tiny_gguf


@pytest.mark.parametrize('prompt', ['Task: go to the kitchen\n', 'Task: grab it\n', ''])
def test_completion_follows_a_simple_grammar(server_backend, prompt):
    c = server_backend.complete(prompt, GO_GRAMMAR, 32)
    assert GO_RE.fullmatch(c.text), c.text
    assert c.finish_reason == 'stop'
    assert c.tokens_generated > 0
    assert c.seconds >= 0


@pytest.mark.parametrize('prompt', ['Task: go to the hall\n', 'Task: search the cup\n'])
def test_completion_follows_alternatives_and_repetition(server_backend, prompt):
    c = server_backend.complete(prompt, PLAN_GRAMMAR, 200)
    assert PLAN_RE.fullmatch(c.text), repr(c.text)


def test_base_url_with_v1_suffix_and_warm(llama_server):
    b = HttpBackend(llama_server + '/v1/')
    b.load()
    b.warm('You write robot programs.\n')
    assert GO_RE.fullmatch(b.complete('You write robot programs.\nGo', GO_GRAMMAR, 32).text)


def test_max_tokens_cuts_generation(server_backend):
    c = server_backend.complete('x', 'root ::= [a-z]{50}', 5)
    assert c.finish_reason == 'length'
    assert re.fullmatch('[a-z]{5}', c.text)


def test_no_chat_template_endpoint_gives_none(server_backend):
    messages = [{'role': 'user', 'content': 'hi'}]
    assert server_backend.chat_template_prompt(messages) is None
    assert server_backend.chat_template_prompt(messages) is None  # remembered


def test_wrong_path_is_model_unavailable(llama_server):
    b = HttpBackend(llama_server + '/not-here')
    with pytest.raises(PlannerError) as e:
        b.load()
    assert e.value.code == ErrorCode.MODEL_UNAVAILABLE
    assert '404' in e.value.message


def test_closed_port_is_model_unavailable_quickly(closed_port):
    b = HttpBackend(f'http://127.0.0.1:{closed_port}', connect_timeout=1.0)
    for call in (b.load, lambda: b.complete('x', GO_GRAMMAR, 8)):
        start = time.monotonic()
        with pytest.raises(PlannerError) as e:
            call()
        assert e.value.code == ErrorCode.MODEL_UNAVAILABLE
        assert 'cannot connect' in e.value.message
        assert time.monotonic() - start < 1.5


def test_hanging_connect_is_bounded_by_the_connect_timeout(hanging_port):
    # A loopback listener whose accept queue is full: the connect neither
    # completes nor is refused, so only the connect timeout ends it.
    b = HttpBackend(f'http://127.0.0.1:{hanging_port}', connect_timeout=0.3,
                    read_timeout=30.0)
    for call in (b.load, lambda: b.complete('x', GO_GRAMMAR, 8)):
        start = time.monotonic()
        with pytest.raises(PlannerError) as e:
            call()
        assert e.value.code == ErrorCode.MODEL_UNAVAILABLE
        assert 'cannot connect' in e.value.message and 'timed out' in e.value.message
        assert time.monotonic() - start < 1.5


def test_server_that_never_answers_is_bounded_by_the_read_timeout(silent_port):
    b = HttpBackend(f'http://127.0.0.1:{silent_port}', connect_timeout=2.0,
                    read_timeout=0.3)
    start = time.monotonic()
    with pytest.raises(PlannerError) as e:
        b.complete('x', GO_GRAMMAR, 8)
    assert e.value.code == ErrorCode.TIMEOUT
    assert 'no reply' in e.value.message
    assert time.monotonic() - start < 1.5


def test_short_read_timeout_is_timeout(llama_server):
    b = HttpBackend(llama_server, read_timeout=0.05)
    start = time.monotonic()
    with pytest.raises(PlannerError) as e:
        b.complete('slow', LONG_GRAMMAR, 1500)
    assert e.value.code == ErrorCode.TIMEOUT
    assert time.monotonic() - start < 1.0


def test_deadline_shortens_the_read_timeout(llama_server):
    b = HttpBackend(llama_server, read_timeout=60.0)
    start = time.monotonic()
    with pytest.raises(PlannerError) as e:
        b.complete('slow', LONG_GRAMMAR, 1500, deadline=start + 0.1)
    assert e.value.code == ErrorCode.TIMEOUT
    assert time.monotonic() - start < 1.0
    with pytest.raises(PlannerError) as e:
        b.complete('x', GO_GRAMMAR, 8, deadline=time.monotonic() - 1)
    assert e.value.code == ErrorCode.TIMEOUT


# -- against a fake server: request format, errors, /apply-template -----------

class FakeServer(http.server.ThreadingHTTPServer):
    """An OpenAI-style server answering from ``self.replies`` and recording requests."""

    daemon_threads = True

    def __init__(self):
        super().__init__(('127.0.0.1', 0), FakeHandler)
        self.requests = []
        self.replies = {}

    @property
    def url(self):
        """Return the server's base URL."""
        return f'http://127.0.0.1:{self.server_address[1]}'


class FakeHandler(http.server.BaseHTTPRequestHandler):
    """Handler of FakeServer."""

    def log_message(self, *args):
        """Keep the test output quiet."""

    def _answer(self, body):
        self.server.requests.append((self.command, self.path, dict(self.headers), body))
        status, reply = self.server.replies.get(self.path, (404, {'detail': 'Not Found'}))
        data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server's naming
        """Answer a GET."""
        self._answer(None)

    def do_POST(self):  # noqa: N802 - http.server's naming
        """Answer a POST."""
        length = int(self.headers.get('Content-Length') or 0)
        self._answer(json.loads(self.rfile.read(length) or b'null'))


@pytest.fixture
def fake():
    """Run a FakeServer for one test."""
    server = FakeServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def completion_reply(text, finish='stop'):
    """Return a /v1/completions reply body."""
    return {'choices': [{'text': text, 'finish_reason': finish}],
            'usage': {'prompt_tokens': 7, 'completion_tokens': 3}}


def test_request_carries_grammar_model_and_key(fake):
    fake.replies['/v1/models'] = (200, {'data': [{'id': 'm1'}, {'id': 'm2'}]})
    fake.replies['/v1/completions'] = (200, completion_reply('GO(a)'))
    b = HttpBackend(fake.url, api_key='secret')
    b.load()
    c = b.complete('the prompt', GO_GRAMMAR, 12)
    assert (c.text, c.tokens_prompt, c.tokens_generated) == ('GO(a)', 7, 3)
    method, path, headers, body = fake.requests[-1]
    assert (method, path) == ('POST', '/v1/completions')
    assert headers['Authorization'] == 'Bearer secret'
    assert body['model'] == 'm1'
    assert body['prompt'] == 'the prompt'
    assert body['max_tokens'] == 12
    assert body['temperature'] == 0.0
    assert body['grammar'] == GO_GRAMMAR
    assert body['guided_grammar'] == GO_GRAMMAR
    b.complete('free', '', 4)
    assert 'grammar' not in fake.requests[-1][3]


def test_explicit_model_and_grammar_fields(fake):
    fake.replies['/v1/models'] = (200, {'data': [{'id': 'm1'}]})
    fake.replies['/v1/completions'] = (200, completion_reply('x'))
    b = HttpBackend(fake.url, model='mine', grammar_fields=('grammar',))
    b.load()
    b.complete('p', GO_GRAMMAR, 4)
    body = fake.requests[-1][3]
    assert body['model'] == 'mine' and 'guided_grammar' not in body


def test_apply_template_endpoint_is_used(fake):
    fake.replies['/apply-template'] = (200, {'prompt': '<|user|>hi<|assistant|>'})
    b = HttpBackend(fake.url)
    assert b.chat_template_prompt([{'role': 'user', 'content': 'hi'}]) == \
        '<|user|>hi<|assistant|>'
    assert fake.requests[-1][3] == {'messages': [{'role': 'user', 'content': 'hi'}]}


@pytest.mark.parametrize('status', [400, 500, 503])
def test_http_errors_are_model_unavailable_with_the_server_message(fake, status):
    fake.replies['/v1/completions'] = (status, {'error': {'message': 'grammar is bad'}})
    with pytest.raises(PlannerError) as e:
        HttpBackend(fake.url).complete('p', GO_GRAMMAR, 4)
    assert e.value.code == ErrorCode.MODEL_UNAVAILABLE
    assert str(status) in e.value.message and 'grammar is bad' in e.value.message


@pytest.mark.parametrize('reply', ['not json', {'choices': []}, {'nothing': 1}])
def test_malformed_replies_are_model_unavailable(fake, reply):
    fake.replies['/v1/completions'] = (200, reply)
    with pytest.raises(PlannerError) as e:
        HttpBackend(fake.url).complete('p', GO_GRAMMAR, 4)
    assert e.value.code == ErrorCode.MODEL_UNAVAILABLE
    assert 'unexpected reply' in e.value.message


def test_bad_urls_are_rejected():
    with pytest.raises(ValueError):
        HttpBackend('ftp://127.0.0.1/models')
    assert HttpBackend('127.0.0.1:8080').info()['base_url'] == '127.0.0.1:8080'
