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
The inference backends by name: the ``backend`` setting picks one here.

A backend is added in one file plus one line: its module defines a factory
``from_config(config, **hints) -> Backend`` (``hints``: what the planner
offers a backend that can use it, ``guess`` and ``max_segments``; a backend
takes what it needs and ignores the rest), and one line registers it::

    register('mine', my_backend.from_config, describe=lambda config: config.http_url)

``describe(config)`` names the model in the node's log and diagnostics.
The built-in backends are registered in ``llm_planner/backends/__init__.py``.
"""

_BACKENDS = {}


def register(name, factory, describe=None):
    """Make ``factory(config, **hints)`` the backend called ``name`` (a later one replaces it)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f'a backend name is a non-empty string, not {name!r}')
    _BACKENDS[name] = (factory, describe or (lambda config: name))


def unregister(name):
    """Forget the backend called ``name`` (tests)."""
    _BACKENDS.pop(name, None)


def names():
    """Return the names of the registered backends, sorted."""
    return tuple(sorted(_BACKENDS))


def _entry(name):
    try:
        return _BACKENDS[name]
    except KeyError:
        raise ValueError(f'backend must be one of {", ".join(names())}, got {name!r}') from None


def create(config, **hints):
    """Return a new backend for ``config`` (the one its ``backend`` names)."""
    return _entry(config.backend)[0](config, **hints)


def describe(config):
    """Return what the node logs as the model of ``config`` (a path, a URL)."""
    return _entry(config.backend)[1](config)
