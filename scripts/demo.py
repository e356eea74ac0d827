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
End-to-end demo: planner node + loopback robot, one task through the plan service.

Started by ``make demo TASK="..."`` (after ``make setup`` and ``make model``).
Starts both nodes on a private DDS domain (loopback only): through
``ros2 launch llm_planner demo.launch.py``, the path a robot uses, when the
ROS 2 launch tools are installed, else as two processes (``--no-launch``
forces that). Sends the task through ``/llm_planner/plan`` as
``ros2 service call`` would, prints the plan, every goal the robot received
with its outcome, and the task's result; then stops the nodes with SIGINT
(Ctrl-C). Exits 0 when the task succeeded and the nodes exited cleanly.
"""

import argparse
import importlib.util
import os
import pathlib
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / 'models' / 'qwen2.5-coder-1.5b-instruct-q4_k_m.gguf'
GOAL_LINE = re.compile(r'GOAL|goal', re.I)


def start(name, cmd, log_dir, echo=None):
    """Start a process with its output in log_dir/name.log; echo matching lines."""
    log_path = pathlib.Path(log_dir) / f'{name}.log'
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1, env=os.environ.copy())

    def pump():
        with open(log_path, 'w') as log:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                if echo and echo(line):
                    print(f'  [{name}] {line.rstrip()}', flush=True)

    threading.Thread(target=pump, daemon=True).start()
    return proc, log_path


def stop(proc, timeout=10):
    """Stop a process: SIGINT, then SIGKILL after a timeout; return its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode


def launch_available():
    """Return whether ``ros2 launch`` can run here (ros2cli, launch_ros installed)."""
    return shutil.which('ros2') is not None and all(
        importlib.util.find_spec(name) is not None for name in ('ros2launch', 'launch_ros'))


def start_nodes(args, log_dir):
    """Start planner and robot; return ``[(name, process)]`` and the planner's log."""
    def planner_lines(line):
        return 'ready' in line or 'ERROR' in line or 'error' in line

    if args.launch and launch_available():
        print('demo: ros2 launch llm_planner demo.launch.py')
        launch, log = start('launch', [
            'ros2', 'launch', 'llm_planner', 'demo.launch.py', f'model_path:={args.model}',
            f'params_file:={args.params_file}', f'world_file:={args.world_file}'], log_dir,
            echo=lambda line: GOAL_LINE.search(line) is not None or planner_lines(line)
            or 'process has' in line)
        return [('ros2 launch', launch)], log
    print('demo: planner_node and sim_robot as two processes'
          + ('' if not args.launch else ' (ros2 launch is not installed)'))
    robot, _ = start('sim_robot', [
        sys.executable, '-m', 'llm_planner.sim.sim_robot', '--ros-args',
        '-p', f'world_file:={args.world_file}'], log_dir,
        echo=lambda line: GOAL_LINE.search(line) is not None)
    planner, log = start('planner', [
        sys.executable, '-m', 'llm_planner.ros.planner_node', '--ros-args',
        '--params-file', args.params_file, '-p', f'model_path:={args.model}'], log_dir,
        echo=planner_lines)
    return [('planner', planner), ('sim_robot', robot)], log


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('task', nargs='?', default='Go to the kitchen and grab a banana')
    parser.add_argument('--model', default=str(DEFAULT_MODEL), help='GGUF model file')
    parser.add_argument('--params-file', default=str(ROOT / 'config' / 'planner.yaml'))
    parser.add_argument('--world-file', default=str(ROOT / 'config' / 'sim_world.yaml'))
    parser.add_argument('--no-launch', dest='launch', action='store_false',
                        help='start the two nodes as processes even when ros2 launch is there')
    args = parser.parse_args(argv)

    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(150, 230)))
    log_dir = tempfile.mkdtemp(prefix='llm_planner_demo_')
    print(f'demo: task {args.task!r}')
    print(f'demo: model {args.model}')
    print(f'demo: ROS_DOMAIN_ID {os.environ["ROS_DOMAIN_ID"]}, logs in {log_dir}')

    processes, planner_log = start_nodes(args, log_dir)
    from llm_planner.ros import client
    status = 1
    try:
        started = time.monotonic()
        call = argparse.Namespace(task=args.task, dry_run=False, wait=True,
                                  node='/llm_planner', timeout=120.0, exec_timeout=300.0)
        status = client.run(call)
        print(f'demo: {"succeeded" if status == 0 else "FAILED"} '
              f'({time.monotonic() - started:.1f} s)')
        time.sleep(0.5)  # let the last robot log lines through
    finally:
        for name, proc in processes:
            code = stop(proc, timeout=20)
            if code != 0:
                print(f'demo: {name} exited with code {code}')
                status = status or 1
    if status != 0:
        print(f'demo: planner log: {planner_log}')
    return status


if __name__ == '__main__':
    sys.exit(main())
