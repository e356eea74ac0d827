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
Inference through an OpenAI-compatible HTTP server.

Works with llama.cpp's ``llama-server``, ``python -m llama_cpp.server``,
vLLM and other servers exposing ``/v1/completions``. The raw prompt is sent
with greedy settings; the GBNF grammar goes in ``grammar`` (llama.cpp
servers) and ``guided_grammar`` (vLLM); servers ignore the field they do not
know. Only the standard library is used. Each request opens its own
connection, so the backend is safe to use from several threads.
"""

import http.client
import json
import socket
import time
import urllib.parse

from llm_planner.backends.base import Backend, check_deadline, Completion
from llm_planner.core.errors import ErrorCode, PlannerError

GRAMMAR_FIELDS = ('grammar', 'guided_grammar')


class HttpBackend(Backend):
    """A model served over an OpenAI-compatible completions API."""

    name = 'http'

    def __init__(self, base_url, model=None, api_key=None, connect_timeout=2.0,
                 read_timeout=30.0, grammar_fields=GRAMMAR_FIELDS):
        """
        Configure the backend; ``load()`` checks that the server answers.

        ``base_url`` is the server root, with or without the ``/v1`` suffix
        (``http://127.0.0.1:8080``). ``model`` None uses the first model the
        server lists. ``read_timeout`` bounds the wait for each response; a
        request's ``deadline`` shortens it.
        """
        url = urllib.parse.urlsplit(base_url if '://' in base_url else f'http://{base_url}')
        if url.scheme not in ('http', 'https') or not url.hostname:
            raise ValueError(f'not an http(s) URL: {base_url!r}')
        self.base_url = base_url
        self._https = url.scheme == 'https'
        self._host = url.hostname
        self._port = url.port or (443 if self._https else 80)
        path = url.path.rstrip('/')
        self._root = path[:-3] if path.endswith('/v1') else path
        self.model = model
        self.api_key = api_key
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.grammar_fields = tuple(grammar_fields)
        self._loaded = False
        self._has_apply_template = None

    def load(self):
        """Check that the server answers and pick its model; raise MODEL_UNAVAILABLE if not."""
        status, body = self._request('GET', '/v1/models', None, self.read_timeout)
        if status != 200:
            raise self._http_error(status, body, '/v1/models')
        if self.model is None:
            try:
                models = [m['id'] for m in json.loads(body)['data']]
            except (ValueError, KeyError, TypeError):
                models = []
            self.model = models[0] if models else None
        self._loaded = True

    def warm(self, prefix_text, segments=(), reserve=0):
        """Ask for one token after ``prefix_text`` so the server caches the prefix."""
        self.complete(prefix_text, '', 1)

    def complete(self, prompt, grammar, max_tokens, deadline=None):
        """Decode greedily from ``prompt`` under ``grammar``; see ``Backend.complete``."""
        check_deadline(deadline)
        start = time.monotonic()
        payload = {
            'prompt': prompt,
            'max_tokens': max(1, int(max_tokens)),
            'temperature': 0.0,
            'top_p': 1.0,
            'n': 1,
            'stream': False,
            'cache_prompt': True,
        }
        if self.model:
            payload['model'] = self.model
        if grammar:
            for field in self.grammar_fields:
                payload[field] = grammar
        timeout = self.read_timeout
        if deadline is not None:
            timeout = min(timeout, max(0.001, deadline - time.monotonic()))
        status, body = self._request('POST', '/v1/completions', payload, timeout)
        if status != 200:
            raise self._http_error(status, body, '/v1/completions')
        try:
            reply = json.loads(body)
            choice = reply['choices'][0]
            text = choice['text']
        except (ValueError, KeyError, IndexError, TypeError):
            raise PlannerError(ErrorCode.MODEL_UNAVAILABLE,
                               f'unexpected reply from {self._url("/v1/completions")}: '
                               f'{_snippet(body)}') from None
        usage = reply.get('usage') or {}
        return Completion(
            text=text,
            tokens_generated=int(usage.get('completion_tokens') or 0),
            tokens_prompt=int(usage.get('prompt_tokens') or 0),
            seconds=time.monotonic() - start,
            finish_reason=choice.get('finish_reason') or 'stop',
        )

    def chat_template_prompt(self, messages):
        """
        Render ``messages`` with the server model's template, when the server can.

        llama.cpp's ``llama-server`` renders chat templates at
        ``/apply-template``; other servers have no such endpoint, and then
        None is returned (the planner uses its own plain prompt format).
        """
        if self._has_apply_template is False:
            return None
        try:
            status, body = self._request('POST', '/apply-template',
                                         {'messages': list(messages)}, self.read_timeout)
        except PlannerError:
            return None
        if status == 200:
            try:
                prompt = json.loads(body)['prompt']
            except (ValueError, KeyError, TypeError):
                prompt = None
            if isinstance(prompt, str):
                self._has_apply_template = True
                return prompt
            self._has_apply_template = False
        elif status in (404, 405, 501):
            self._has_apply_template = False
        return None

    def info(self):
        """Return the backend's settings."""
        return {
            'backend': self.name,
            'base_url': self.base_url,
            'model': self.model,
            'loaded': self._loaded,
            'connect_timeout': self.connect_timeout,
            'read_timeout': self.read_timeout,
            'n_gpu_layers': None,
            'n_ctx': None,
        }

    def close(self):
        """Forget the server state (there is no persistent connection)."""
        self._loaded = False

    # -- internals --------------------------------------------------------

    def _url(self, path):
        scheme = 'https' if self._https else 'http'
        return f'{scheme}://{self._host}:{self._port}{self._root}{path}'

    def _request(self, method, path, payload, read_timeout):
        """Send one request; return (status, body text). Map network failures to PlannerError."""
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.connect_timeout)
        url = self._url(path)
        headers = {'Accept': 'application/json'}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode('utf-8')
            headers['Content-Type'] = 'application/json'
        if self.api_key:
            headers['Authorization'] = f'Bearer {self.api_key}'
        try:
            try:
                conn.connect()
            except (socket.timeout, OSError) as e:
                raise PlannerError(ErrorCode.MODEL_UNAVAILABLE,
                                   f'cannot connect to the model server at {url}: '
                                   f'{_reason(e)}') from None
            conn.sock.settimeout(read_timeout)
            try:
                conn.request(method, self._root + path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except socket.timeout:
                raise PlannerError(ErrorCode.TIMEOUT,
                                   f'no reply from the model server at {url} within '
                                   f'{read_timeout:.3g} s') from None
            except (OSError, http.client.HTTPException) as e:
                raise PlannerError(ErrorCode.MODEL_UNAVAILABLE,
                                   f'the model server at {url} failed: {_reason(e)}') from None
            return response.status, data.decode('utf-8', errors='replace')
        finally:
            conn.close()

    def _http_error(self, status, body, path):
        return PlannerError(ErrorCode.MODEL_UNAVAILABLE,
                            f'the model server answered HTTP {status} at {self._url(path)}: '
                            f'{_snippet(body)}')


def _reason(error):
    if isinstance(error, socket.timeout):
        return 'timed out'
    return getattr(error, 'strerror', None) or str(error) or type(error).__name__


def _snippet(body, limit=300):
    """Return the server's error message, or the start of the body."""
    try:
        reply = json.loads(body)
        error = reply.get('error', reply) if isinstance(reply, dict) else reply
        if isinstance(error, dict):
            error = error.get('message') or error.get('detail') or error
        text = error if isinstance(error, str) else json.dumps(error)
    except ValueError:
        text = body
    text = ' '.join(str(text).split())
    return text if len(text) <= limit else text[:limit] + '...'


def from_config(config, **hints):
    """Return the HttpBackend a PlannerConfig asks for (the registry's ``http``)."""
    return HttpBackend(config.http_url, model=config.http_model or None,
                       connect_timeout=config.http_connect_timeout,
                       read_timeout=config.http_read_timeout)
