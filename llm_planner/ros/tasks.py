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
The node's two request paths: ``~/plan`` and ``~/execute_task``, and ``~/status``.

Both run one sequence (:meth:`TaskServer._prepare` then
:meth:`TaskServer._start`): refuse when not active, refuse when busy under
``busy_policy`` reject, number the task on arrival, plan it in the
planning threads (bounded by ``max_pending_plans``), then claim it from the
:class:`~llm_planner.ros.arbiter.JobArbiter` (which preempts the running
task) and execute it (:meth:`TaskServer._run_job`). A dry run only plans.
The service answers once the task has started; the action's result comes
when it ends.

Threading: the callbacks are coroutines in the node's ReentrantCallbackGroup
under a MultiThreadedExecutor. Planning runs in a small pool of threads (the
Planner serializes the model) and is awaited; waiting for servers, goals and
results is awaited too (:class:`llm_planner.ros.waits.Waits`, every wait
with a deadline). No executor thread is held while the model runs.
"""

from concurrent.futures import ThreadPoolExecutor
import json

from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.execution import CancelToken, ExecutionResult, PlanExecutor
from llm_planner.ros.action_runner import CANCEL_WAIT
from llm_planner.ros.arbiter import Job
from llm_planner.ros.messages import to_plan_steps
from llm_planner.ros.waits import CANCELED, DONE
from llm_planner_interfaces.action import ExecuteTask
from rclpy.action import CancelResponse, GoalResponse
from rclpy.task import Future
from std_msgs.msg import String

# Threads running Planner.plan (it serializes the model; the others wait there,
# and check a task's text at once).
PLAN_WORKERS = 4
# Planning gets its own planning_timeout plus this before the node gives up on it.
PLANNING_GRACE = 10.0
# A preempting task waits at most this long for the old one to stop.
PREEMPT_WAIT = CANCEL_WAIT + 2.0


class TaskServer:
    """
    Plans and runs the node's tasks.

    ``node``: the PlannerNode (its ``runtime``, ``param``, ``executor``,
    logger); ``arbiter``: the JobArbiter; ``stats``: the PlanningStats;
    ``waits``: the node's Waits.
    """

    def __init__(self, node, arbiter, stats, waits):
        self._node = node
        self._arbiter = arbiter
        self._stats = stats
        self._waits = waits
        self._log = node.get_logger()
        self.status_pub = node.create_publisher(String, '~/status', 10)
        self.executions = set()  # Futures of ~/execute_task goals not yet ended
        self._pool = ThreadPoolExecutor(max_workers=PLAN_WORKERS,
                                        thread_name_prefix='llm_planner_plan')

    def destroy(self):
        """Stop the planning threads (a plan in progress is dropped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- the shared sequence ------------------------------------------------

    async def _prepare(self, task, cancel=None, dry_run=False):
        """Check that the node takes the task, number it, plan it: (number, runtime, result)."""
        self._arbiter.check_active()
        number = 0
        if not dry_run:
            self._arbiter.check_busy()
            number = self._arbiter.arrive()
        runtime = self._node.runtime
        if not self._arbiter.active or runtime is None:
            raise self._node.not_active()
        with self._arbiter.planning():
            result = await self._plan_async(runtime, task, cancel)
        return number, runtime, result

    def _start(self, number, task, result, source, token, feedback=None):
        """Claim a planned task from the arbiter (preempting the running one); return it."""
        job = Job(number, task, result.steps, source, token, feedback, future=Future())
        preempted = self._arbiter.claim(job)
        if preempted is not None:
            self._log.info(f'task {job.number} preempts task {preempted.number}')
        return job

    def _plan(self, runtime, task):
        """Plan ``task`` with the configured planner (a planning thread); raise PlannerError."""
        if not self._arbiter.active:
            raise self._node.not_active()
        try:
            result = runtime.planner.plan(task)
        except PlannerError as e:
            self._stats.planning_failed(getattr(e, 'planning_time', None))  # None: no model
            raise
        self._stats.planned(result.planning_time)
        return result

    async def _plan_async(self, runtime, task, cancel):
        """Plan in the planning threads and await it; CANCELED at once on ``cancel``."""
        done = Future()

        def transfer(cf):
            error = cf.exception()
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(cf.result())
        self._pool.submit(self._plan, runtime, task).add_done_callback(transfer)
        limit = runtime.planner.config.planning_timeout + PLANNING_GRACE
        outcome = await self._waits.wait([done], limit, cancel)
        if outcome == DONE:
            return done.result()
        if outcome == CANCELED:
            code = cancel.reason or ErrorCode.CANCELED
            raise PlannerError(code, 'canceled while planning' if code == ErrorCode.CANCELED
                               else f'{code}: stopped while planning')
        raise PlannerError(ErrorCode.TIMEOUT, f'planning did not end within {limit:g} s')

    async def _run_job(self, job, runtime, program):
        """Execute a claimed job to the end; never raises."""
        result = None
        try:
            self.publish({'event': 'planned', 'job': job.number, 'source': job.source,
                          'task': job.task, 'program': program, 'step_count': len(job.steps)})
            previous = job.previous
            if previous is not None and not previous.done:
                if await self._waits.wait([previous.future], PREEMPT_WAIT) != DONE:
                    self._log.warning(
                        f'task {previous.number} did not stop within {PREEMPT_WAIT:g} s; '
                        f'task {job.number} starts anyway (it sends no further step)')
            job.previous = None  # do not keep a chain of old jobs alive

            def progress(index, count, text, state):
                self.publish({'event': 'step', 'job': job.number, 'step_index': index,
                              'step_count': count, 'step': text, 'state': state})
                if job.feedback is not None:
                    job.feedback(index, count, text, state)
            executor = PlanExecutor(runtime.planner.catalog, runtime.runners,
                                    progress=progress,
                                    step_timeout=lambda: self._node.param('step_timeout'),
                                    logger=self._log)
            result = await executor.execute(job.steps, job.cancel)
        except Exception as e:  # noqa: BLE001 - a bug ends the task, not the node
            self._log.error(f'task {job.number}: internal error: {e!r}')
            result = ExecutionResult(False, ErrorCode.INTERNAL_ERROR, f'internal error: {e!r}')
        finally:
            if result is None:
                result = ExecutionResult(False, ErrorCode.INTERNAL_ERROR, 'execution stopped')
            self.finish(job, result)
        return result

    def finish(self, job, result):
        """End ``job`` with ``result``: count it, log it, publish it, wake its waiters."""
        job.result = result
        try:
            self._stats.executed(result.success)
            self._arbiter.release(job)
            if result.success:
                self._log.info(f'task {job.number} succeeded: {result.message}')
            else:
                self._log.warning(
                    f'task {job.number} failed: {result.error_code}: {result.message}')
            self.publish({'event': 'result', 'job': job.number, 'success': result.success,
                          'error_code': result.error_code, 'message': result.message,
                          'failed_step': result.failed_step, 'steps_done': result.steps_done})
        finally:
            job.done_event.set()
            job.future.set_result(result)

    def publish(self, obj):
        """Publish one ``~/status`` event."""
        try:
            self.status_pub.publish(String(data=json.dumps(obj, ensure_ascii=False)))
        except Exception as e:  # noqa: BLE001 - status is informative
            self._log.warning(f'cannot publish status: {e!r}', throttle_duration_sec=10.0)

    # --- ~/plan ---------------------------------------------------------------

    async def on_plan(self, request, response):
        """Serve ``~/plan``: plan; unless a dry run, start the task and answer at once."""
        try:
            response.success = False
            number, runtime, result = await self._prepare(request.task,
                                                          dry_run=request.dry_run)
            response.steps = to_plan_steps(result.steps, runtime.planner.catalog)
            response.program = result.program
            response.planning_time = float(result.planning_time)
            if request.dry_run:
                response.success = True
                response.message = f'planned {len(result.steps)} step(s) (dry run)'
                return response
            job = self._start(number, request.task, result, 'service', CancelToken())
            try:
                self._node.executor.create_task(self._run_job(job, runtime, result.program))
            except Exception as e:
                self.finish(job, ExecutionResult(False, ErrorCode.INTERNAL_ERROR,
                                                 f'cannot start the task: {e!r}'))
                raise
            response.success = True
            response.message = (f'planned {len(result.steps)} step(s); executing as task '
                                f'{job.number} (progress on {self.status_pub.topic_name})')
        except PlannerError as e:
            response.success = False
            response.error_code = e.code
            response.message = e.message
            if getattr(e, 'planning_time', None) is not None:
                response.planning_time = float(e.planning_time)
        except Exception as e:  # noqa: BLE001 - the caller always gets an answer
            self._log.error(f'~/plan: internal error: {e!r}')
            response.success = False
            response.error_code = ErrorCode.INTERNAL_ERROR
            response.message = f'internal error: {e!r}'
        return response

    # --- ~/execute_task ---------------------------------------------------------

    def on_goal(self, goal_request):
        """Accept a goal while active."""
        try:
            if not self._arbiter.active:
                self._log.info(f'rejected a goal: {self._node.not_active().message}')
                return GoalResponse.REJECT
            return GoalResponse.ACCEPT
        except Exception as e:  # noqa: BLE001
            self._log.error(f'~/execute_task goal callback: {e!r}')
            return GoalResponse.REJECT

    def on_cancel(self, goal_handle):
        """Cancel the goal's task (its running step's goal, and no further step)."""
        try:
            self._arbiter.cancel_goal(bytes(goal_handle.goal_id.uuid))
        except Exception as e:  # noqa: BLE001
            self._log.error(f'~/execute_task cancel callback: {e!r}')
        return CancelResponse.ACCEPT

    async def on_execute(self, goal_handle):
        """Run an accepted goal to its end; its final state follows the result."""
        key = bytes(goal_handle.goal_id.uuid)
        token = CancelToken()
        ended = Future()  # done once the goal's final state is set (see the node's shutdown)
        with self._arbiter.lock:
            self.executions.add(ended)
        if self._arbiter.add_goal(key, token):
            token.cancel(ErrorCode.SHUTDOWN)
        if goal_handle.is_cancel_requested:
            token.cancel(ErrorCode.CANCELED)
        out = ExecuteTask.Result(success=False, failed_step=-1)
        try:
            await self._execute_goal(goal_handle, token, out)
        except Exception as e:  # noqa: BLE001 - the caller always gets a result
            self._log.error(f'~/execute_task: internal error: {e!r}')
            out.success = False
            out.error_code = ErrorCode.INTERNAL_ERROR
            out.message = f'internal error: {e!r}'
        finally:
            self._arbiter.remove_goal(key)
        try:
            if out.success:
                goal_handle.succeed()
            elif out.error_code == ErrorCode.CANCELED and goal_handle.is_cancel_requested:
                goal_handle.canceled()
            else:
                goal_handle.abort()
        except Exception as e:  # noqa: BLE001 - e.g. the goal is already terminal
            self._log.warning(f'~/execute_task: cannot set the goal state: {e!r}')
        with self._arbiter.lock:
            self.executions.discard(ended)
        ended.set_result(out)
        return out

    async def _execute_goal(self, goal_handle, token, out):
        task = goal_handle.request.task

        def feedback(index, count, text, state):
            goal_handle.publish_feedback(ExecuteTask.Feedback(
                step_index=index, step_count=count, step=text, state=state))
        try:
            feedback(-1, 0, '', 'planning')
            number, runtime, result = await self._prepare(task, token)
            out.steps = to_plan_steps(result.steps, runtime.planner.catalog)
            if token.is_set():  # canceled while planning: do not preempt anything
                out.error_code = token.reason or ErrorCode.CANCELED
                out.message = ('canceled before execution'
                               if out.error_code == ErrorCode.CANCELED
                               else 'the node is shutting down; nothing was executed')
                return
            job = self._start(number, task, result, 'action', token, feedback)
        except PlannerError as e:
            out.error_code, out.message = e.code, e.message
            return
        executed = await self._run_job(job, runtime, result.program)
        out.success = executed.success
        out.error_code = executed.error_code
        out.message = executed.message
        out.failed_step = executed.failed_step
