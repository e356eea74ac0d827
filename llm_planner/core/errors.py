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
Error codes shared by the CLI, the plan service and the execute action.

This module is the one source of the codes: the comments of ``Plan.srv`` and
``ExecuteTask.action``, the README's table and docs/architecture.md are
checked against it (test/test_error_codes.py). Each interface lists the codes
it can return: :data:`PLAN_SERVICE_CODES`, :data:`EXECUTE_ACTION_CODES`,
:data:`CLI_PLAN_CODES`.
"""


class ErrorCode:
    """String error codes; the same values appear in every interface."""

    # Planning
    INVALID_TASK = 'INVALID_TASK'
    UNSUPPORTED_TASK = 'UNSUPPORTED_TASK'
    INVALID_PLAN = 'INVALID_PLAN'
    UNKNOWN_LOCATION = 'UNKNOWN_LOCATION'
    MODEL_UNAVAILABLE = 'MODEL_UNAVAILABLE'
    CONFIG_INVALID = 'CONFIG_INVALID'  # a settings, skills, map or examples file is unusable
    CONTEXT_OVERFLOW = 'CONTEXT_OVERFLOW'  # the prompt does not fit the model's context (n_ctx)
    TIMEOUT = 'TIMEOUT'
    # Node and execution
    NOT_ACTIVE = 'NOT_ACTIVE'
    BUSY = 'BUSY'
    PREEMPTED = 'PREEMPTED'
    CANCELED = 'CANCELED'
    SERVER_UNAVAILABLE = 'SERVER_UNAVAILABLE'
    GOAL_REJECTED = 'GOAL_REJECTED'
    STEP_FAILED = 'STEP_FAILED'
    OBJECT_NOT_FOUND = 'OBJECT_NOT_FOUND'
    POSE_UNAVAILABLE = 'POSE_UNAVAILABLE'
    SHUTDOWN = 'SHUTDOWN'  # the node stopped (SIGINT, SIGTERM) before the task ended
    INTERNAL_ERROR = 'INTERNAL_ERROR'


ALL_CODES = tuple(value for name, value in vars(ErrorCode).items() if name.isupper())

# What Planner.plan can raise once the planner is loaded (the node loads it at
# configure: a bad file or model then leaves the node unconfigured, NOT_ACTIVE).
PLANNING_CODES = (
    ErrorCode.INVALID_TASK, ErrorCode.UNSUPPORTED_TASK, ErrorCode.INVALID_PLAN,
    ErrorCode.UNKNOWN_LOCATION, ErrorCode.MODEL_UNAVAILABLE, ErrorCode.CONTEXT_OVERFLOW,
    ErrorCode.TIMEOUT)

# ~/plan (Plan.srv): planning, and the node's state and arbitration.
PLAN_SERVICE_CODES = PLANNING_CODES + (
    ErrorCode.NOT_ACTIVE, ErrorCode.BUSY, ErrorCode.PREEMPTED, ErrorCode.INTERNAL_ERROR)

# ~/execute_task (ExecuteTask.action): the plan service's, and execution.
EXECUTE_ACTION_CODES = PLAN_SERVICE_CODES + (
    ErrorCode.CANCELED, ErrorCode.SHUTDOWN, ErrorCode.SERVER_UNAVAILABLE,
    ErrorCode.GOAL_REJECTED, ErrorCode.STEP_FAILED, ErrorCode.OBJECT_NOT_FOUND,
    ErrorCode.POSE_UNAVAILABLE)

# ``llm-planner plan``: planning in-process, the files and the model loaded first.
CLI_PLAN_CODES = PLANNING_CODES + (ErrorCode.CONFIG_INVALID, ErrorCode.INTERNAL_ERROR)


class PlannerError(Exception):
    """A failure with an error code and a message meant for the user."""

    def __init__(self, code, message):
        super().__init__(f'{code}: {message}')
        self.code = code
        self.message = message
