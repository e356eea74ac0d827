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
Load benchmark of the plan service and the action: rows, concurrency, bursts.

Starts planner_node and the loopback robot sim_robot in their own processes
(isolated DDS domain, loopback only), sends N dry-run plan requests one after
the other, then C clients sending requests at the same time, then a burst of
B callers (one client each) sending one request at the same instant, then G
``execute_task`` goals sent at the same instant from G action clients, and
prints answered / lost counts (a goal is lost when its goal request or its
result request gets no answer), latency percentiles and the node's resident
memory before and after. Figures, not pass/fail.

    python benchmarks/bench_load.py                 # tiny random model (default)
    python benchmarks/bench_load.py --model models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
"""

import argparse
import os
import pathlib
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
TASKS = [
    'Go to the kitchen and grab a banana',
    'Bring me the book from the office',
    'go to the bedroom',
    'Find the keys',
    'Va dans la cuisine et prends une pomme',
    'Fetch the cup from the living room and come back here',
]


def rss_kib(pid):
    """Return the resident set size of a process, KiB."""
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def percentile(values, q):
    """Return the nearest-rank percentile ``q`` (0-100) of ``values``."""
    if not values:
        return float('nan')
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


class Caller:
    """Plan service calls from a background-spinning node, each with a timeout."""

    def __init__(self, n_clients, n_action_clients=0):
        import rclpy
        from rclpy.executors import MultiThreadedExecutor
        from llm_planner_interfaces.srv import Plan
        self.rclpy = rclpy
        self.Plan = Plan
        rclpy.init()
        self.node = rclpy.create_node('bench_load_client')
        self.clients = [self.node.create_client(Plan, '/llm_planner/plan')
                        for _ in range(n_clients)]
        from rclpy.action import ActionClient
        from rclpy.qos import qos_profile_services_default, QoSProfile
        from llm_planner_interfaces.action import ExecuteTask
        self.ExecuteTask = ExecuteTask
        # Depth 100 on the clients' side too: with Fast DDS each client of a
        # service sees every response, and 20 goal answers in a few ms can
        # push a client's own out of a depth-10 queue (see README, Reliability).
        qos = QoSProfile(depth=100)
        qos.reliability = qos_profile_services_default.reliability
        qos.durability = qos_profile_services_default.durability
        self.action_clients = [
            ActionClient(self.node, ExecuteTask, '/llm_planner/execute_task',
                         goal_service_qos_profile=qos, result_service_qos_profile=qos,
                         cancel_service_qos_profile=qos)
            for _ in range(n_action_clients)]
        self.executor = MultiThreadedExecutor(num_threads=4)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def wait_ready(self, timeout):
        """Wait until the service answers a request (the node is active)."""
        if not self.clients[0].wait_for_service(timeout_sec=timeout):
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.call(0, '', timeout=10.0)
            if response is not None and response.error_code != 'NOT_ACTIVE':
                return True
            time.sleep(0.5)
        return False

    def wait_all_ready(self, timeout):
        """Wait until every client sees its server; then let discovery settle."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(c.service_is_ready() for c in self.clients) and \
                    all(c.server_is_ready() for c in self.action_clients):
                time.sleep(2.0)  # the node must also match each client's reader
                return True
            time.sleep(0.1)
        return False

    def burst(self, task, timeout):
        """Send one request from every client at once; return [(latency or None, response)]."""
        events = [threading.Event() for _ in self.clients]
        starts, futures = [], []
        for client, event in zip(self.clients, events):
            starts.append(time.monotonic())
            future = client.call_async(self.Plan.Request(task=task, dry_run=True))
            future.add_done_callback(lambda _, e=event: e.set())
            futures.append(future)
        ends = [None] * len(futures)
        for i, event in enumerate(events):
            if event.wait(max(0.0, starts[i] + timeout - time.monotonic())):
                ends[i] = time.monotonic()
        return [(ends[i] - starts[i] if ends[i] is not None else None,
                 futures[i].result() if futures[i].done() else None)
                for i in range(len(futures))]

    def goal_burst(self, task, timeout):
        """
        Send one execute_task goal from every action client at once.

        Return ``(results, goal_lost, result_lost)``: results as
        [(latency to the result or None, result or None)].
        """
        def wait(future, deadline):
            event = threading.Event()
            future.add_done_callback(lambda _: event.set())
            return event.wait(max(0.0, deadline - time.monotonic()))
        start = time.monotonic()
        deadline = start + timeout
        sends = [c.send_goal_async(self.ExecuteTask.Goal(task=task))
                 for c in self.action_clients]
        goal_lost = result_lost = 0
        results = []
        handles = []
        for future in sends:
            if not wait(future, deadline):
                goal_lost += 1
                handles.append(None)
            else:
                handles.append(future.result())
        result_futures = [h.get_result_async() if h is not None and h.accepted else None
                          for h in handles]
        for handle, future in zip(handles, result_futures):
            if handle is None:
                results.append((None, None))
            elif future is None:  # rejected: answered
                results.append((time.monotonic() - start, None))
            elif not wait(future, deadline):
                result_lost += 1
                results.append((None, None))
            else:
                results.append((time.monotonic() - start, future.result().result))
        return results, goal_lost, result_lost

    def call(self, index, task, timeout):
        """Return the response, or None when none came within timeout."""
        done = threading.Event()
        future = self.clients[index].call_async(self.Plan.Request(task=task, dry_run=True))
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout):
            future.cancel()
            return None
        return future.result()

    def close(self):
        """Stop spinning and shut rclpy down."""
        for client in self.action_clients:
            client.destroy()
        self.executor.shutdown()
        self.node.destroy_node()
        self.rclpy.shutdown()


def run_calls(caller, index, tasks, timeout, out):
    """Call the service for each task, appending (latency or None, response) to out."""
    for task in tasks:
        start = time.monotonic()
        response = caller.call(index, task, timeout)
        out.append((time.monotonic() - start if response is not None else None, response))


def report(name, results):
    """Print the figures of one phase."""
    latencies = [lat for lat, _ in results if lat is not None]
    lost = sum(1 for lat, _ in results if lat is None)
    codes = {}
    for _, response in results:
        if response is not None:
            key = response.error_code or 'OK'
            codes[key] = codes.get(key, 0) + 1
    print(f'{name}: sent {len(results)}, answered {len(latencies)}, lost {lost}; '
          f'answers {codes}')
    if latencies:
        print(f'  latency s: p50 {percentile(latencies, 50):.3f}  '
              f'p90 {percentile(latencies, 90):.3f}  p99 {percentile(latencies, 99):.3f}  '
              f'max {max(latencies):.3f}  mean {statistics.mean(latencies):.3f}')
    return lost


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', help='GGUF model (default: a tiny random model)')
    parser.add_argument('--requests', type=int, default=200, help='requests in a row')
    parser.add_argument('--clients', type=int, default=8, help='concurrent clients')
    parser.add_argument('--per-client', type=int, default=10,
                        help='requests per concurrent client')
    parser.add_argument('--burst', type=int, default=50,
                        help='callers sending one plan request at the same instant')
    parser.add_argument('--goals', type=int, default=20,
                        help='execute_task goals sent at the same instant')
    parser.add_argument('--timeout', type=float, default=120.0,
                        help='seconds before a request counts as lost')
    args = parser.parse_args(argv)

    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ['ROS_DOMAIN_ID'] = str(random.randint(120, 200))
    workdir = tempfile.mkdtemp(prefix='llm_planner_bench_load_')
    model = args.model
    overrides = []
    if not model:
        from llm_planner.testing.tiny_model import write_tiny_gguf
        model = os.path.join(workdir, 'tiny.gguf')
        write_tiny_gguf(model)
        # The tiny model's vocabulary is bytes: the prompt takes ~4x the tokens
        # (the cached example bank alone ~18k), as in test/test_node.py.
        overrides = ['-p', 'n_ctx:=32768', '-p', 'num_examples:=1', '-p', 'max_tokens:=512']
    model = os.path.abspath(model)
    log_path = os.path.join(workdir, 'planner_node.log')
    print(f'model {model}\nnode log {log_path}\nROS_DOMAIN_ID {os.environ["ROS_DOMAIN_ID"]}')
    with open(log_path, 'w') as log:
        node = subprocess.Popen(
            [sys.executable, '-m', 'llm_planner.ros.planner_node', '--ros-args',
             '--params-file', str(ROOT / 'config' / 'planner.yaml'),
             '-p', f'model_path:={model}'] + overrides,
            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    sim_log = open(os.path.join(workdir, 'sim_robot.log'), 'w')
    sim = subprocess.Popen([sys.executable, '-m', 'llm_planner.sim.sim_robot'], stdout=sim_log,
                           stderr=subprocess.STDOUT, env=os.environ.copy())
    caller = Caller(max(args.clients, args.burst), args.goals)
    lost = 0
    try:
        if not caller.wait_ready(timeout=120.0):
            print('planner node did not become ready; see', log_path)
            return 1
        rss_before = rss_kib(node.pid)
        results = []
        start = time.monotonic()
        run_calls(caller, 0, [TASKS[i % len(TASKS)] for i in range(args.requests)],
                  args.timeout, results)
        seq_time = time.monotonic() - start
        lost += report(f'{args.requests} requests in a row ({seq_time:.1f} s)', results)
        outs = [[] for _ in range(args.clients)]
        threads = [threading.Thread(
            target=run_calls,
            args=(caller, i, [TASKS[(i + j) % len(TASKS)] for j in range(args.per_client)],
                  args.timeout, outs[i]))
            for i in range(args.clients)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        par_time = time.monotonic() - start
        lost += report(f'{args.clients} concurrent clients x {args.per_client} '
                       f'({par_time:.1f} s)', [r for out in outs for r in out])
        if not caller.wait_all_ready(60.0):
            print('not every burst client found the node')
        start = time.monotonic()
        results = caller.burst(TASKS[0], args.timeout)
        lost += report(f'burst: {len(results)} callers at once '
                       f'({time.monotonic() - start:.1f} s)', results)
        start = time.monotonic()
        results, goal_lost, result_lost = caller.goal_burst('go to the kitchen', args.timeout)
        codes = {}
        for _, result in results:
            if result is not None:
                key = result.error_code or 'OK'
                codes[key] = codes.get(key, 0) + 1
        answered = sum(1 for lat, _ in results if lat is not None)
        print(f'goals: {len(results)} execute_task goals at once '
              f'({time.monotonic() - start:.1f} s): answered {answered}, goal requests lost '
              f'{goal_lost}, results lost {result_lost}; results {codes}')
        lost += goal_lost + result_lost
        rss_after = rss_kib(node.pid)
        print(f'node resident memory: before {rss_before / 1024:.1f} MiB, '
              f'after {rss_after / 1024:.1f} MiB')
        print(f'node still running: {node.poll() is None}')
        print(f'lost in total: {lost}')
    finally:
        caller.close()
        sim.send_signal(signal.SIGINT)
        node.send_signal(signal.SIGINT)
        try:
            node.wait(timeout=15)
        except subprocess.TimeoutExpired:
            node.kill()
        try:
            sim.wait(timeout=15)
        except subprocess.TimeoutExpired:
            sim.kill()
        sim_log.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
