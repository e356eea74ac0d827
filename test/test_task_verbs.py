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
"""The orders a task gives (planning/task_verbs.py), read against the catalog's verbs."""

import os

from llm_planner.core.catalog import SkillCatalog
from llm_planner.planning.task_verbs import clause_orders, unsupported_orders, with_orders
import pytest

CATALOG = SkillCatalog.load(os.path.join(os.path.dirname(__file__), '..', 'config',
                                         'skills.yaml'))


def orders(task):
    return [(o.verb, sorted(o.skills)) for o in clause_orders(task, CATALOG.verbs)]


@pytest.mark.parametrize('task, expected', [
    ('Go to the kitchen and grab a banana', [('grab', ['GRAB'])]),
    ('Could you please water the plants?', [('water', [])]),
    ('Take the can from the pantry and water the plants',
     [('take', ['GRAB']), ('water', [])]),
    ('Switch off the light in the office', [('switch off', [])]),
    ('Please show me a dance', [('show', [])]),
    ('Pick up the cup, then look for my keys', [('pick up', ['GRAB']), ('look for', ['SEARCH'])]),
    ('Prends la pomme et arrose les plantes', [('prends', ['GRAB']), ('arrose', [])]),
    ('Get me the towel', [('get me', [''])]),
    # Clauses that order nothing: subjects, nouns, questions, verbs without an object.
    ('My feet are cold, the slippers are in the bedroom', []),
    ('Find the salt and pepper', [('find', ['SEARCH'])]),
    ('Bring me bread and butter please', []),
    ('Let me know where the keys are', []),
    ('Is there any milk left in the kitchen?', []),
    ('Something in the kitchen', []),
])
def test_the_orders_of_a_task(task, expected):
    assert orders(task) == expected


def test_unsupported_orders_are_named_once_in_the_tasks_order():
    found = clause_orders('Water the plants, feed the cat and water the lawn', CATALOG.verbs)
    assert unsupported_orders(found) == ['water', 'feed']


@pytest.mark.parametrize('task, line, expected', [
    ('Head to the bedroom, grab the pillow and come back', ['go', 'find', 'come back'],
     ['go', 'find', 'take', 'come back']),
    ('Grab the cup, then visit the office', ['go'], ['take', 'go']),
    ('Find the keys', [], ['find']),
    # Lines that carry every order stay as they are.
    ('Go to the kitchen and grab a banana', ['go', 'find', 'take'], ['go', 'find', 'take']),
    ('Fetch me the charger', ['find', 'take', 'come back'], ['find', 'take', 'come back']),
])
def test_an_order_the_line_lacks_is_put_in_at_its_place(task, line, expected):
    assert with_orders(line, clause_orders(task, CATALOG.verbs), CATALOG) == expected
