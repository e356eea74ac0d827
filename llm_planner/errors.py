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
"""Error codes shared by the CLI, the plan service and the execute action."""


class ErrorCode:
    """String error codes; the same values appear in every interface."""

    # Planning
    INVALID_TASK = 'INVALID_TASK'
    UNSUPPORTED_TASK = 'UNSUPPORTED_TASK'
    INVALID_PLAN = 'INVALID_PLAN'
    UNKNOWN_LOCATION = 'UNKNOWN_LOCATION'
    MODEL_UNAVAILABLE = 'MODEL_UNAVAILABLE'
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


class PlannerError(Exception):
    """A failure with an error code and a message meant for the user."""

    def __init__(self, code, message):
        super().__init__(f'{code}: {message}')
        self.code = code
        self.message = message
