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
"""The lifecycle state, tracked by the node's transition callbacks; ~/change_state's guard."""

from llm_planner.ros.parameters import first_line

# The label during each transition, and after it ends with SUCCESS / FAILURE.
TRANSITIONS = {
    'configure': ('configuring', 'inactive', 'unconfigured'),
    'activate': ('activating', 'active', 'inactive'),
    'deactivate': ('deactivating', 'inactive', 'active'),
    'cleanup': ('cleaningup', 'unconfigured', 'inactive'),
    'shutdown': ('shuttingdown', 'finalized', 'finalized'),
    'error': ('errorprocessing', 'unconfigured', 'finalized'),
}


class LifecycleState:
    """
    The node's lifecycle state label, set by its transition callbacks.

    rclpy keeps the state in a private state machine; the node tracks it
    itself instead: :meth:`begin` when a transition callback starts,
    :meth:`end` with its outcome.
    """

    def __init__(self):
        self.label = 'unconfigured'

    def begin(self, transition):
        """Enter the transition's intermediate state (``configuring``, ...)."""
        self.label = TRANSITIONS[transition][0]

    def end(self, transition, success=True):
        """Enter the state the transition leads to."""
        self.label = TRANSITIONS[transition][1 if success else 2]
        return self.label


def guard_change_state(node, transition_lock, loading):
    """
    Answer a change_state request that cannot be done with success false.

    rclpy's LifecycleNode serves ``~/change_state`` itself. A transition
    *label* not valid in the current state is answered success false, but
    a transition *id* not valid in it (configure, id 1, sent to an active
    node, as lifecycle managers do at bring-up) raises RCLError out of the
    service callback, which ends the executor's spin and the process.
    rclpy offers no public hook there, so the callback of that service
    (``Service.callback``, a public attribute) is wrapped; the Service
    object is reachable only as the private ``_service_change_state``
    (same name in Humble and Jazzy), hence the guard: where it is missing
    nothing is wrapped. The wrapper also refuses a transition while
    another one runs (the autostart configure loading the model: ``loading()``
    is then true), instead of running two transitions at once.
    """
    service = getattr(node, '_service_change_state', None)
    original = getattr(service, 'callback', None)
    if original is None:
        node.get_logger().warning('cannot guard ~/change_state: unknown rclpy layout')
        return

    def change_state(request, response):
        transition = request.transition
        what = (f'transition {transition.label!r}' if transition.label
                else f'transition id {transition.id}')
        if not transition_lock.acquire(blocking=False):
            node.get_logger().warning(
                f'change_state: {what} refused: another transition is running'
                + (' (loading the model)' if loading() else ''))
            response.success = False
            return response
        try:
            state = node.state_label
            return original(request, response)
        except Exception as e:  # noqa: BLE001 - an invalid request must not end the node
            node.get_logger().warning(
                f'change_state: {what} refused in state {state}: {first_line(e)}')
            response.success = False
            return response
        finally:
            transition_lock.release()
    service.callback = change_state
