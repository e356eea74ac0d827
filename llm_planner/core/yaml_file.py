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
The one YAML loader of the package: every configuration file is read here.

:func:`read_yaml` opens and parses a file (``yaml.safe_load``: no Python
objects from the file); every way that can fail (missing, unreadable, not
UTF-8, not YAML) comes out as one :class:`YamlFileError`. :func:`load_yaml_as`
adds what the skill catalog, the semantic map and the example bank share: the
document built by a function, and the error type of the caller with the
file's name in the message.
"""

import yaml


class YamlFileError(Exception):
    """A YAML file cannot be read or parsed; ``cause`` is the original error."""

    def __init__(self, path, cause):
        super().__init__(f'{path}: {cause}')
        self.path = path
        self.cause = cause

    @property
    def not_yaml(self):
        """Return True when the file was read but is not valid YAML."""
        return isinstance(self.cause, yaml.YAMLError)


def read_yaml(path):
    """Return the document of the YAML file ``path``; raise YamlFileError."""
    try:
        with open(path, encoding='utf-8') as f:
            return yaml.safe_load(f)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise YamlFileError(path, e) from e


def load_yaml_as(path, build, error, what):
    """
    Return ``build(document)`` for the YAML file ``path``.

    Read and parse failures come out as ``error('cannot read WHAT PATH:
    ...')``, and ``error`` raised by ``build`` as ``error('PATH: ...')``.
    """
    try:
        data = read_yaml(path)
    except YamlFileError as e:
        raise error(f'cannot read {what} {path}: {e.cause}') from e.cause
    try:
        return build(data)
    except error as e:
        raise error(f'{path}: {e}') from e
