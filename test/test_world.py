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
"""Unit tests of llm_planner.sim.world: world YAML parsing and failure specs."""

import math
import os

from llm_planner.core.geometry import Pose
from llm_planner.sim.world import (apply_failure, default_world_file, DIE_EXIT_CODE, Failures,
                                   load_world, parse_failures, SERVERS, world_from_dict,
                                   WorldError)
import pytest
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
SIM_WORLD = os.path.join(REPO_ROOT, 'config', 'sim_world.yaml')

EXPECTED_PLACES = {
    'kitchen': (3.0, 1.0), 'living_room': (0.0, 0.0), 'bedroom': (-2.0, 3.0),
    'bathroom': (-2.0, -1.5), 'office': (4.0, -2.0), 'entrance': (0.5, -3.0)}
EXPECTED_OBJECTS = {
    'banana': 'kitchen', 'apple': 'kitchen', 'cup': 'living_room', 'book': 'office',
    'keys': 'entrance', 'towel': 'bathroom', 'phone': 'bedroom'}


def write(tmp_path, text, name='world.yaml'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# The shipped world ----------------------------------------------------------

def test_sim_world_places_and_objects():
    world = load_world(SIM_WORLD)
    assert world.frame == 'map'
    assert world.robot == Pose('map', 0.0, 0.0, 0.0)
    assert world.speed > 0.0
    assert {name: (p.pose.x, p.pose.y) for name, p in world.places.items()} == EXPECTED_PLACES
    assert 'garage' not in world.places and world.place('garage') is None
    assert world.place('cuisine').name == 'kitchen'
    assert world.place('Living Room').name == 'living_room'
    assert set(world.objects) == set(EXPECTED_OBJECTS)
    for name, place in EXPECTED_OBJECTS.items():
        # Each object is found by a robot standing at its place, not from the others.
        at_place = world.places[place].pose
        assert world.find_object(name, at_place) is not None, name
        for other, other_place in world.places.items():
            if other != place:
                assert world.find_object(name, other_place.pose) is None, (name, other)
    assert world.failures.describe() == []


def test_default_world_file_exists():
    path = default_world_file()
    assert os.path.isfile(path)
    assert load_world(path).places.keys() == EXPECTED_PLACES.keys()


# World parsing ---------------------------------------------------------------

def test_empty_world_has_defaults(tmp_path):
    world = load_world(write(tmp_path, ''))
    assert world.frame == 'map' and world.robot == Pose('map', 0.0, 0.0, 0.0)
    assert world.places == {} and world.objects == {}
    assert world.failures == Failures()


def test_objects_by_place_offset_and_pose():
    world = world_from_dict({
        'robot': {'x': 1.0, 'y': 2.0, 'yaw': 0.5, 'speed': 2.5, 'search_radius': math.inf},
        'locations': {'kitchen': {'frame': 'map', 'x': 3.0, 'y': 1.0, 'yaw': 0.3,
                                  'aliases': ['Cuisine']}},
        'objects': {
            'Banana': 'cuisine',
            'apple': {'place': 'kitchen', 'dx': 0.5, 'dy': -0.5},
            'cup': {'x': -1.0, 'y': 2.0, 'yaw': 1.0, 'frame': 'map'},
        },
    })
    assert world.robot == Pose('map', 1.0, 2.0, 0.5)
    assert world.speed == 2.5 and math.isinf(world.search_radius)
    assert world.objects['banana'] == Pose('map', 3.0, 1.0, 0.3)
    assert world.objects['apple'] == Pose('map', 3.5, 0.5, 0.3)
    assert world.objects['cup'] == Pose('map', -1.0, 2.0, 1.0)
    # Anywhere with an infinite radius.
    assert world.find_object('cup', Pose('map', 100.0, 100.0)) is not None


def test_yaml_infinity_is_accepted(tmp_path):
    world = load_world(write(tmp_path, 'robot: {search_radius: .inf, arm_reach: .inf}\n'))
    assert math.isinf(world.search_radius) and math.isinf(world.arm_reach)


def test_object_near_picks_named_or_closest():
    world = world_from_dict({
        'robot': {'grab_tolerance': 0.5},
        'objects': {'banana': {'x': 0.0, 'y': 0.0}, 'apple': {'x': 0.3, 'y': 0.0}},
    })
    assert world.object_near(Pose('map', 0.25, 0.0))[0] == 'apple'
    assert world.object_near(Pose('map', 0.25, 0.0), 'banana')[0] == 'banana'
    assert world.object_near(Pose('map', 0.0, 0.0), 'cup') is None
    assert world.object_near(Pose('map', 2.0, 0.0)) is None


@pytest.mark.parametrize('text, message', [
    ('robot: [1, 2]', 'robot must be a mapping'),
    ('[1, 2]', 'must be a mapping'),
    ('robots: {}', 'unknown key(s) robots'),
    ('robot: {x: one}', 'x must be a number'),
    ('robot: {x: .nan}', 'must be finite'),
    ('robot: {speed: 0}', 'speed must be > 0'),
    ('robot: {speed: -1.0}', 'speed must be > 0'),
    ('robot: {search_radius: -1.0}', 'search_radius must be >= 0'),
    ('robot: {frame: odom}', "frame 'odom' is not the world frame"),
    ('robot: {x: true}', 'x must be a number'),
    ('places: {kitchen: {x: 1.0}}', 'y is required'),
    ('places: {kitchen: {x: 1.0, y: 0.0, z: 0.0}}', 'unknown key(s) z'),
    ('places: {kitchen: {x: 1.0, y: 0.0, aliases: cuisine}}', 'aliases must be a list'),
    ('places: {a: {x: 1, y: 0, aliases: [b]}, b: {x: 2, y: 0}}', "name 'b' is already used"),
    ('objects: {banana: garage}', "unknown place 'garage'"),
    ('objects: {banana: {place: kitchen, dz: 1}}\nplaces: {kitchen: {x: 1, y: 1}}',
     'unknown key(s) dz'),
    ('objects: {banana: {y: 1.0}}', 'x is required'),
    ('objects: {Banana: {x: 0, y: 0}, banana: {x: 1, y: 1}}', 'listed twice'),
    ('frame: ""', 'frame must be a non-empty string'),
    ('failures: navigate:reject', 'failures must be a list'),
    ('failures: [navigate:explode]', "unknown kind 'explode'"),
    ('failures:\n  - navigate:abort:9003: no path', 'expected a string'),
    ('robot: {x: 1.0\n', 'is not valid YAML'),
])
def test_bad_world_files(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(WorldError) as info:
        load_world(path)
    assert message in str(info.value)
    assert path in str(info.value)


def test_missing_world_file(tmp_path):
    with pytest.raises(WorldError, match='cannot read world file'):
        load_world(str(tmp_path / 'nope.yaml'))


def test_world_yaml_failures_are_applied(tmp_path):
    path = write(tmp_path, yaml.safe_dump({'failures': ['navigate:reject', 'pose:silent']}))
    world = load_world(path)
    assert world.failures.server('navigate').reject and world.failures.pose.silent
    assert world.failures.describe() == ['navigate:reject', 'pose:silent']


# Failure specs ---------------------------------------------------------------

def test_no_failures_by_default():
    failures = parse_failures([])
    assert failures == Failures() and failures.describe() == []
    assert parse_failures(None) == Failures()
    assert parse_failures(['', '  ']) == Failures()


def test_server_failures():
    failures = parse_failures([
        'navigate:reject', 'grab:offline', 'search:slow:2.5', 'grab:delay:1.5',
        'navigate:die_after:0.5', ' Search : Reject '])
    assert failures.server('navigate').reject and not failures.server('navigate').offline
    assert failures.server('grab').offline and failures.server('grab').delay == 1.5
    assert failures.server('search').slow == 2.5 and failures.server('search').reject
    assert failures.server('navigate').die_after == 0.5
    assert failures.server('search').die_after is None
    assert DIE_EXIT_CODE == 17


@pytest.mark.parametrize('spec, code, message', [
    ('navigate:abort', 9000, ''),
    ('navigate:abort:TIMEOUT', 9003, ''),
    ('navigate:abort:timeout:planner gave up', 9003, 'planner gave up'),
    ('navigate:abort:9002:tf: lookup failed', 9002, 'tf: lookup failed'),
    ('navigate:abort:65535', 65535, ''),
    ('navigate:abort:0:odd', 0, 'odd'),
])
def test_navigate_abort_codes(spec, code, message):
    failures = parse_failures([spec])
    assert failures.server('navigate').abort
    assert failures.server('navigate').abort_code == code
    assert failures.server('navigate').abort_message == message


def test_search_and_grab_abort_messages():
    failures = parse_failures(['grab:abort:gripper jammed: retry', 'search:abort'])
    grab = failures.server('grab')
    assert grab.abort and grab.abort_message == 'gripper jammed: retry'
    assert failures.server('search').abort and failures.server('search').abort_message == ''


def test_absent_objects_leave_the_world():
    failures = parse_failures(['search:absent:Banana', 'search:absent:red cup'])
    assert failures.absent_objects == {'banana', 'red_cup'}
    world = world_from_dict({'objects': {'banana': {'x': 0, 'y': 0}, 'apple': {'x': 0, 'y': 0}}})
    world.failures = failures
    here = Pose('map', 0.0, 0.0)
    assert world.find_object('banana', here) is None
    assert world.find_object('apple', here) is not None
    assert world.object_near(here, 'banana') is None
    assert set(world.present_objects()) == {'apple'}


def test_pose_failures():
    failures = parse_failures(['pose:silent', 'pose:stale:2.5', 'pose:silent_after:1'])
    assert failures.pose.silent and failures.pose.stale == 2.5
    assert failures.pose.silent_after == 1.0


def test_failures_hold_one_entry_per_server():
    failures = parse_failures(['search:reject'])
    assert set(failures.servers) == set(SERVERS)
    assert [name for name in SERVERS if failures.server(name).reject] == ['search']
    with pytest.raises(KeyError):
        failures.server('fly')


def test_later_specs_override_and_clear_resets():
    base = parse_failures(['navigate:slow:2', 'pose:silent'])
    failures = parse_failures(['navigate:slow:5.0'], base)
    assert failures.server('navigate').slow == 5.0 and failures.pose.silent
    assert base.server('navigate').slow == 2.0, 'the base is not modified'
    cleared = parse_failures(['clear', 'grab:reject'], base)
    assert cleared.describe() == ['grab:reject']
    assert apply_failure(base, 'CLEAR') == Failures()


def test_describe_round_trips():
    specs = [
        'navigate:reject', 'navigate:slow:5', 'navigate:die_after:0.5',
        'navigate:abort:9003:no path: really', 'search:offline', 'search:delay:2',
        'grab:abort:jammed', 'search:absent:banana', 'pose:silent_after:3', 'pose:stale:4']
    failures = parse_failures(specs)
    assert parse_failures(failures.describe()) == failures
    assert set(failures.describe()) == set(specs)


@pytest.mark.parametrize('spec, message', [
    ('navigate', 'expected TARGET:KIND'),
    ('teleport:reject', "unknown target 'teleport'"),
    ('navigate:explode', "unknown kind 'explode' for navigate"),
    ('navigate:absent:banana', "unknown kind 'absent' for navigate"),
    ('navigate:reject:now', 'takes no argument'),
    ('grab:offline:yes', 'takes no argument'),
    ('navigate:slow', 'needs a value'),
    ('navigate:slow:', 'needs a value'),
    ('navigate:slow:fast', 'is not a number'),
    ('navigate:slow:0', 'must be > 0'),
    ('navigate:slow:inf', 'not a finite number'),
    ('search:delay:-1', 'must be >= 0'),
    ('navigate:die_after:soon', 'is not a number'),
    ('navigate:abort:BOOM', "error code 'BOOM'"),
    ('navigate:abort:70000', "error code '70000'"),
    ('search:absent', 'needs an object name'),
    ('search:absent:  ', 'needs an object name'),
    ('pose:loud', "unknown kind 'loud' for pose"),
    ('pose:silent:1', 'takes no argument'),
    ('pose:stale', 'is not a number'),
    ('pose:stale:0', 'must be > 0'),
])
def test_bad_failure_specs(spec, message):
    with pytest.raises(WorldError) as info:
        parse_failures([spec])
    assert message in str(info.value)
    assert repr(spec) in str(info.value)


def test_failures_must_be_a_list_of_strings():
    with pytest.raises(WorldError, match='must be a list'):
        parse_failures('navigate:reject')
    with pytest.raises(WorldError, match='expected a string'):
        parse_failures([{'navigate': 'reject'}])
