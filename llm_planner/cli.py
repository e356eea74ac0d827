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
The ``llm-planner`` command line.

::

    llm-planner plan [--config FILE] [--format text|json] [--model PATH] TASK
    llm-planner plan [--config FILE] [--model PATH] -      # one task per stdin line

``plan`` prints the plan (text: the program, one call per line; json: the
seed's JSON list of steps) and exits 0. On failure it prints
``{"error": CODE, "message": TEXT}`` (json) or ``error: CODE: message`` on
stderr (text) and exits 1; usage errors exit 2. With ``-`` as TASK it reads
one task per line from stdin, loads the model once and prints one JSON line
per input line (a plan's JSON list, or the error object), then exits 0 if
every task succeeded, else 1.

Adding a subcommand: write it in its own module with a function
``register(subparsers, common)`` that adds its parser
(``subparsers.add_parser(name, parents=[common], ...)``) and sets
``func=run`` where ``run(args) -> int`` is the exit code; then add
``'module.path:register'`` to :data:`COMMANDS` below. ``common`` holds the
shared ``--config`` / ``--model`` options; :func:`load_config` reads them.
"""

import argparse
import importlib
import json
import os
import sys

from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.planning.config import default_config_dir, PlannerConfig

# Subcommand registrations, in help order: 'module:function' (see the module doc).
COMMANDS = [
    'llm_planner.cli:register_plan',
    'llm_planner.ros.client:register',
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def error_json(code, message):
    """Return the JSON error object printed for a failed task."""
    return json.dumps({'error': code, 'message': message}, ensure_ascii=False)


def load_config(args):
    """
    Return the PlannerConfig the shared options select.

    ``--config`` (default: the package's ``planner.yaml``), then ``--model``.
    Raise PlannerError(CONFIG_INVALID) naming the file when it is unusable.
    """
    path = args.config or os.path.join(default_config_dir(), 'planner.yaml')
    try:
        config = PlannerConfig.from_yaml(path)
        if args.model:
            config = config.replace(model_path=os.path.abspath(args.model))
    except ValueError as e:
        raise PlannerError(ErrorCode.CONFIG_INVALID, f'bad configuration: {e}') from None
    return config


def common_options():
    """Return the parent parser of the options every subcommand shares."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--config', metavar='FILE',
                        help="planner parameters file (default: the package's planner.yaml)")
    common.add_argument('--model', metavar='PATH',
                        help="GGUF model file, instead of the config file's model_path")
    return common


# --- plan ---------------------------------------------------------------------

def register_plan(subparsers, common):
    """Add the ``plan`` subcommand."""
    parser = subparsers.add_parser(
        'plan', parents=[common], help='turn a task into a checked program',
        description='Turn a natural-language task into a checked program over the '
                    "robot's skills. Exit 0 on success, 1 on failure, 2 on a usage error.")
    parser.add_argument('--format', choices=('text', 'json'), default='text',
                        help='output: the program (text, default) or its JSON steps (json)')
    parser.add_argument('task', metavar='TASK',
                        help='the task, in quotes; "-" reads one task per line from stdin '
                             'and prints one JSON result per line')
    parser.set_defaults(func=run_plan)


class _LazyPlanner:
    """Load the planner on the first task that needs it; remember a load failure."""

    def __init__(self, args):
        self._args = args
        self._config = None
        self._planner = None
        self._error = None

    def plan(self, task):
        from llm_planner.planning.planner import Planner
        from llm_planner.planning.screening import screen_task
        if self._config is None and self._error is None:
            try:
                self._config = load_config(self._args)
            except PlannerError as e:
                self._error = e
        if self._config is not None:
            screen_task(task, self._config.max_task_chars)  # refused input needs no model
        if self._error is not None:
            raise self._error
        if self._planner is None:
            planner = Planner(self._config)
            try:
                planner.load()
            except PlannerError as e:
                self._error = e
                raise
            self._planner = planner
        return self._planner.plan(task)

    def close(self):
        if self._planner is not None:
            self._planner.close()


def _plan_one(planner, task, fmt):
    from llm_planner.core.program import format_program, steps_to_json
    try:
        result = planner.plan(task)
    except PlannerError as e:
        if fmt == 'json':
            print(error_json(e.code, e.message), flush=True)
        else:
            print(f'error: {e.code}: {e.message}', file=sys.stderr, flush=True)
        return False
    if fmt == 'json':
        print(steps_to_json(result.steps), flush=True)
    else:
        print(format_program(result.steps), flush=True)
    return True


def _stdin_lines():
    """Yield stdin's lines as bytes, without their line ending."""
    stream = sys.stdin.buffer
    for raw in iter(stream.readline, b''):
        if raw.endswith(b'\n'):
            raw = raw[:-1]
            if raw.endswith(b'\r'):
                raw = raw[:-1]
        yield raw


def run_plan(args):
    """Run ``llm-planner plan``; return the exit code."""
    planner = _LazyPlanner(args)
    try:
        if args.task != '-':
            return EXIT_OK if _plan_one(planner, args.task, args.format) else EXIT_FAILED
        all_ok = True
        for number, raw in enumerate(_stdin_lines(), 1):
            try:
                task = raw.decode('utf-8')
            except UnicodeDecodeError as e:
                print(error_json(ErrorCode.INVALID_TASK,
                                 f'line {number} is not valid UTF-8 (byte {e.start})'),
                      flush=True)
                all_ok = False
                continue
            all_ok = _plan_one(planner, task, 'json') and all_ok
        return EXIT_OK if all_ok else EXIT_FAILED
    finally:
        planner.close()


# --- entry point -------------------------------------------------------------------

def build_parser():
    """Return the argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog='llm-planner',
        description='Natural-language task planner for robots, on a local LLM.')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    subparsers.required = True
    common = common_options()
    for entry in COMMANDS:
        module_name, _, function = entry.partition(':')
        getattr(importlib.import_module(module_name), function)(subparsers, common)
    return parser


def main(argv=None):
    """Run the command line; return the exit code (0 ok, 1 failed, 2 usage)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors='backslashreplace')
        except (AttributeError, ValueError):
            pass
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on a usage error
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_FAILED
    except Exception as e:  # noqa: B902 (a bug must not show a traceback to users)
        message = f'{type(e).__name__}: {e}'
        if getattr(args, 'format', 'text') == 'json' or getattr(args, 'task', '') == '-':
            print(error_json(ErrorCode.INTERNAL_ERROR, message), flush=True)
        else:
            print(f'error: {ErrorCode.INTERNAL_ERROR}: {message}', file=sys.stderr)
        return EXIT_FAILED


if __name__ == '__main__':
    sys.exit(main())
