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
Guard: tests, benchmarks, scripts, launch files and configs dial loopback only.

The project's rule (README, "Contributing"): network traffic from tests,
benchmarks and demos goes to 127.0.0.0/8 or ::1, never to a private-range or
public address, not even an unroutable one. This test reads every source file
under those folders and fails on an IPv4 address outside 127.0.0.0/8 (the
all-zero address included: as a destination it means "this host" on some
stacks and nothing on others) and on a URL whose host is not loopback.
"""

import ipaddress
import pathlib
import re
ROOT = pathlib.Path(__file__).resolve().parent.parent
FOLDERS = ('test', 'benchmarks', 'scripts', 'launch', 'config', 'eval')
SUFFIXES = {'.py', '.sh', '.yaml', '.yml', '.xml', '.cfg', '.toml', '.json', '.txt', ''}
# A dotted quad not glued to other digits or dots (versions such as 1.2.3.4.5 are not
# addresses; a 4-part version is, and must not be written in these folders).
IPV4 = re.compile(r'(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.]*\d)')
URL = re.compile(r'\b[a-z][a-z0-9+.-]*://(\[[0-9a-fA-F:]+\]|[^/\s:\'"<>)]+)')
LOOPBACK_NAMES = {'localhost', '[::1]'}
# URLs that name a document or an XML namespace, never dialled.
IDENTIFIERS = {
    'www.apache.org',  # the licence header
    'www.eprosima.com',  # Fast DDS profile XML namespace
}


def source_files():
    """Yield the text files under the guarded folders."""
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob('*')):
            if path.is_file() and path.suffix in SUFFIXES and '__pycache__' not in path.parts:
                yield path


def offending_addresses(text):
    """Return the destinations in ``text`` that are not loopback."""
    found = []
    for match in IPV4.finditer(text):
        try:
            address = ipaddress.IPv4Address(match.group(1))
        except ValueError:
            continue  # not an address (an octet over 255)
        if not address.is_loopback:
            found.append(str(address))
    for match in URL.finditer(text):
        host = match.group(1).lower()
        if host in LOOPBACK_NAMES or host in IDENTIFIERS:
            continue
        try:
            if ipaddress.ip_address(host.strip('[]')).is_loopback:
                continue
        except ValueError:
            pass
        found.append(host)
    return found


def test_guard_catches_what_it_must():
    private = '.'.join(['10', '255', '255', '1'])
    public = '.'.join(['8', '8', '8', '8'])
    anywhere = '.'.join(['0'] * 4)
    lan = '.'.join(['192', '168', '1', '20'])
    http = 'http:' + '//'  # split so that this file passes its own scan
    assert offending_addresses(f"HttpBackend('{http}{private}:9')") == [private, private]
    assert offending_addresses(f'connect(("{public}", 53))') == [public]
    assert offending_addresses(f'host={anywhere}') == [anywhere]
    assert offending_addresses(f'{lan}:8080') == [lan]
    assert offending_addresses('requests.get("https://" + "x")') == []
    assert offending_addresses(f'url = "{http}example.org/v1"') == ['example.org']
    assert offending_addresses('http://127.0.0.1:8080 http://localhost:1 http://[::1]:2') == []
    assert offending_addresses('127.4.5.6 and version 0.3.36, 1.2.3.4.5') == []


def test_no_address_outside_loopback():
    files = list(source_files())
    assert len(files) > 20  # the scan really reads the tree
    offenders = {}
    for path in files:
        found = offending_addresses(path.read_text(encoding='utf-8', errors='replace'))
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert not offenders, (f'{offenders}: tests, benchmarks and scripts may only reach '
                           '127.0.0.0/8 or ::1 (README, Contributing)')
