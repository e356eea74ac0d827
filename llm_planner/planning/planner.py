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
The planner: a task in, a checked program over the robot's skills out.

``Planner.plan(task)`` checks the task, builds the prompt
(:mod:`llm_planner.planning.prompt`), decodes greedily under the GBNF grammar generated
from the catalog and the map (:mod:`llm_planner.planning.grammar`), parses the text
(:mod:`llm_planner.core.program`) and validates it (:mod:`llm_planner.core.validator`).
The model's text is only ever parsed, never executed.

The grammar makes every output a well-formed program of catalog calls, but a
context-free grammar cannot check that a ``$variable`` is assigned before it
is used. When the model uses one that is not (or one of the wrong type), the
planner keeps the valid lines before it and decodes that one line again under
a grammar that admits only the variables assigned so far, and goes on line by
line that way. Plans the model gets right take one request; a plan that comes
out of the planner has always passed the validator.
"""

from dataclasses import dataclass, field
import threading
import time

from llm_planner.core.catalog import CatalogError, SkillCatalog
from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.core.program import format_program, parse_line, parse_program
from llm_planner.core.semantic_map import MapError, SemanticMap
from llm_planner.core.validator import collapse_repeats, tidy, validate
from llm_planner.decoding.drafting import plan_guess, PlanFacts
from llm_planner.planning.actions import (actions_gbnf, check_actions, decide_round_trip,
                                          format_actions, parse_actions, refusal_message,
                                          said_round_trip, with_round_trip)
from llm_planner.planning.config import PlannerConfig
from llm_planner.planning.grammar import build_gbnf, line_gbnf
from llm_planner.planning.prompt import AnswerFormat, ExampleError, load_examples, PromptBuilder
from llm_planner.planning.screening import screen_task
from llm_planner.planning.task_places import (add_lookups, delivers_then_returns,
                                              delivery_place, step_literals, TaskPlaces)
from llm_planner.planning.task_verbs import clause_orders, unsupported_orders, with_orders

# Context kept free besides the prompt prefix, cached examples, task and plan (tokens).
CONTEXT_MARGIN = 128


@dataclass
class PlanResult:
    """A checked plan and how it was made."""

    steps: list
    program: str
    planning_time: float
    tokens_generated: int
    raw_output: str
    details: dict = field(default_factory=dict, repr=False)


def _first_invalid(steps, catalog, semantic_map, max_steps):
    """
    Return (index, error) of the first step the validator refuses, or (None, None).

    UNKNOWN_LOCATION is returned like any other refusal; the caller decides.
    """
    for n in range(1, len(steps) + 1):
        try:
            validate(steps[:n], catalog, semantic_map, max_steps=max_steps)
        except PlannerError as e:
            return n - 1, e
    return None, None


class Planner:
    """Plan robot tasks with a local LLM; thread-safe."""

    def __init__(self, config=None, backend=None):
        self.config = (config or PlannerConfig()).validate()
        self._backend = backend
        self._own_backend = backend is None
        self._lock = threading.RLock()
        self._loaded = False
        self.catalog = None
        self.semantic_map = None
        self.examples = None
        self.grammar = None
        self.prompt_builder = None
        self.prefix = None
        self.load_time = None

    # --- set-up -----------------------------------------------------------

    @property
    def loaded(self):
        """Return True once :meth:`load` succeeded."""
        return self._loaded

    @property
    def backend(self):
        """Return the inference backend; None before :meth:`load` when none was given."""
        return self._backend

    @property
    def _caches_examples(self):
        """Whether the examples' KV is to be cached (per-task examples, cache_examples)."""
        return self.config.cache_examples and self.config.num_examples > 0

    def _make_backend(self):
        """Return the backend the config names (llm_planner/backends/registry.py)."""
        from llm_planner.backends import registry
        return registry.create(
            self.config, guess=plan_guess,
            max_segments=len(self.prompt_builder.pool) if self._caches_examples else 0)

    def load_resources(self):
        """Load the catalog, the map, the example bank and the grammar (no model)."""
        config = self.config
        try:
            catalog = SkillCatalog.load(config.skills_path)
            semantic_map = SemanticMap.load(config.locations_path)
            examples = load_examples(config.examples_path)
        except (CatalogError, MapError, ExampleError) as e:
            raise PlannerError(ErrorCode.CONFIG_INVALID, f'bad configuration: {e}') from e
        self.catalog, self.semantic_map, self.examples = catalog, semantic_map, examples
        answer = AnswerFormat(catalog, config.check_actions)
        self.answer_format = answer
        self.actions_grammar = actions_gbnf()
        # The skill that stores the start serves round trips only, unless it
        # does an action of its own.
        start_skill = catalog.get(answer.start_skill) if answer.round_trips else None
        one_way, start_var = catalog, ()
        if start_skill is not None and not start_skill.verbs:
            one_way = SkillCatalog([s for s in catalog if s is not start_skill])
            start_var = (answer.start_var,)
        # What a one-way program may use: repaired lines keep to it too.
        self._one_way = (one_way, start_var)
        self.plan_grammar = answer.gbnf(
            build_gbnf(one_way, semantic_map, max_steps=config.max_steps,
                       strict_places=config.strict_places, exclude_vars=start_var),
            config.max_steps)
        self.round_trip_grammar = answer.gbnf(
            build_gbnf(catalog, semantic_map, max_steps=config.max_steps,
                       strict_places=config.strict_places), config.max_steps,
            round_trip=True)
        if not answer.checks_actions:
            # A catalog that names no verbs: no action line; the model refuses
            # with ERROR itself and chooses the kind of program.
            self.actions_grammar = None
            self.plan_grammar = self.round_trip_grammar = answer.gbnf(
                build_gbnf(catalog, semantic_map, max_steps=config.max_steps,
                           strict_places=config.strict_places), config.max_steps,
                round_trip=None)
        # The first request of every task.
        self.grammar = self.actions_grammar or self.plan_grammar
        self.prompt_builder = PromptBuilder(catalog, semantic_map, examples,
                                            config.num_examples, config.check_actions)

    def load(self):
        """
        Load everything and warm the backend on the fixed prompt prefix.

        Return the seconds it took. Raise PlannerError: CONFIG_INVALID when a
        config file cannot be used, MODEL_UNAVAILABLE when the model cannot be,
        CONTEXT_OVERFLOW when the prompt prefix does not fit ``n_ctx``.
        """
        with self._lock:
            start = time.monotonic()
            self.load_resources()
            if self._backend is None:
                self._backend = self._make_backend()
                self._own_backend = True
            try:
                self._backend.load()
                self.prefix = self.prompt_builder.prefix(self._backend)
                if self._caches_examples and getattr(self._backend, 'max_segments', 0):
                    # Backends that cache the examples' KV (LlamaBackend).
                    reserve = (self.config.max_tokens + self.config.max_task_chars
                               + CONTEXT_MARGIN)
                    self._backend.warm(self.prefix,
                                       segments=self.prompt_builder.segments(self._backend),
                                       reserve=reserve)
                else:
                    self._backend.warm(self.prefix)
                prepare = getattr(self._backend, 'prepare', None)
                if prepare is not None:  # make the fast decoders now, not on the first task
                    for grammar in {self.grammar, self.plan_grammar, self.round_trip_grammar}:
                        prepare(grammar)
            except PlannerError:
                raise
            except Exception as e:  # noqa: B902 (any backend failure: model unusable)
                raise PlannerError(ErrorCode.MODEL_UNAVAILABLE,
                                   f'cannot load the model: {type(e).__name__}: {e}') from e
            self._loaded = True
            self.load_time = time.monotonic() - start
            return self.load_time

    def close(self):
        """Release the backend (when the planner created it)."""
        with self._lock:
            if self._backend is not None:
                self._backend.close()
                if self._own_backend:
                    self._backend = None
            self._loaded = False

    def info(self):
        """Return a dict describing the planner and its backend."""
        out = {'loaded': self._loaded, 'backend': self.config.backend,
               'load_time': self.load_time}
        if self._backend is not None:
            try:
                out.update(self._backend.info())
            except Exception:  # noqa: B902 (status only)
                pass
        return out

    # --- planning -----------------------------------------------------------

    def build_prompt(self, task):
        """Return the whole prompt for a (checked) task."""
        if self.prompt_builder is None:
            self.load_resources()
        return self.prompt_builder.build(task, self._backend)

    def draft_facts(self, task):
        """Return what drafts may know of ``task``'s plan: catalog, map, the prompt's examples."""
        if self.prompt_builder is None:
            self.load_resources()
        builder = self.prompt_builder
        return PlanFacts.of(self.catalog, self.semantic_map, builder.core + builder.select(task))

    def plan(self, task):
        """
        Return a PlanResult for ``task``, or raise PlannerError.

        Codes: INVALID_TASK (bad input), UNSUPPORTED_TASK (an action no skill
        does, or an injection), INVALID_PLAN, UNKNOWN_LOCATION, TIMEOUT, MODEL_UNAVAILABLE,
        CONTEXT_OVERFLOW (and CONFIG_INVALID when it has to load first). A
        raised error carries ``raw_output``, ``planning_time`` and
        ``tokens_generated`` attributes when the model was run.
        """
        start = time.monotonic()
        text = screen_task(task, self.config.max_task_chars)
        with self._lock:
            if not self._loaded:
                self.load()
            start = time.monotonic()
            deadline = start + self.config.planning_timeout
            state = {'raw': '', 'tokens': 0, 'calls': 0, 'repairs': 0}
            try:
                prompt = self.prompt_builder.build(text, self._backend)
                self._backend.set_draft_facts(self.draft_facts(text))
                steps = self._decode(prompt, text, deadline, state)
            except PlannerError as e:
                e.raw_output = state['raw']
                e.tokens_generated = state['tokens']
                e.planning_time = time.monotonic() - start
                raise
            except Exception as e:  # noqa: B902 (a backend bug must not escape as a crash)
                err = PlannerError(ErrorCode.MODEL_UNAVAILABLE,
                                   f'inference failed: {type(e).__name__}: {e}')
                err.raw_output, err.tokens_generated = state['raw'], state['tokens']
                err.planning_time = time.monotonic() - start
                raise err from e
            return PlanResult(steps=steps, program=format_program(steps),
                              planning_time=time.monotonic() - start,
                              tokens_generated=state['tokens'], raw_output=state['raw'],
                              details={'calls': state['calls'], 'repairs': state['repairs'],
                                       'tokens_sampled': state.get('tokens_sampled', 0),
                                       'tokens_forced': state.get('tokens_forced', 0),
                                       'decode_steps': state.get('decode_steps', 0),
                                       'prompt_tokens_evaluated':
                                           state.get('prompt_tokens_evaluated', 0),
                                       'actions': state.get('actions', []),
                                       'round_trip_rule': state.get('round_trip_rule', '')})

    def _complete(self, prompt, grammar, deadline, state):
        budget = self.config.max_tokens - state['tokens']
        if budget <= 0:
            raise PlannerError(ErrorCode.INVALID_PLAN,
                               f'the plan needs more than max_tokens={self.config.max_tokens} '
                               f'tokens')
        if time.monotonic() >= deadline:
            raise PlannerError(ErrorCode.TIMEOUT, 'planning took longer than '
                                                  f'{self.config.planning_timeout} s')
        completion = self._backend.complete(prompt, grammar, budget, deadline)
        state['tokens'] += completion.tokens_generated
        for key, value in (('tokens_sampled', completion.tokens_sampled),
                           ('tokens_forced', completion.tokens_forced),
                           ('decode_steps', completion.decode_steps),
                           ('prompt_tokens_evaluated',
                            completion.tokens_prompt - completion.tokens_cached)):
            state[key] = state.get(key, 0) + value
        state['calls'] += 1
        if getattr(completion, 'finish_reason', 'stop') == 'length':
            state['raw'] += completion.text
            raise PlannerError(ErrorCode.INVALID_PLAN,
                               f'the plan was cut off at max_tokens={self.config.max_tokens} '
                               f'tokens')
        return completion.text

    def _decode(self, prompt, task, deadline, state):
        """
        Decode the action line, check it, decode the program, parse and validate.

        A task that orders an action no skill does, or names a place the
        map lacks, is refused before any decoding; one whose action line
        has an action no skill does is refused from that line alone. The
        program is decoded under the grammar of a round trip when an action
        is the round trip's, else under one without the start. A line that
        uses an unassigned variable is repaired.
        """
        catalog = self.catalog
        orders = clause_orders(task, catalog.verbs) if self.actions_grammar else []
        unordered = unsupported_orders(orders)
        if unordered:
            # An order no skill does ("... and water the plants").
            raise PlannerError(ErrorCode.UNSUPPORTED_TASK, refusal_message(unordered, catalog))
        places = TaskPlaces(task, self.semantic_map)
        unknown = [] if self.config.strict_places else places.unknown()
        if unknown:
            # "Find the ball in the wine cellar": the map has no wine cellar;
            # a plan without it would search the wrong place.
            raise PlannerError(ErrorCode.UNKNOWN_LOCATION,
                               self.semantic_map.not_on_map(unknown[0]))
        if self.actions_grammar is None:
            raw = self._complete(prompt, self.plan_grammar, deadline, state)
            state['raw'] = raw
            return self._checked(collapse_repeats(parse_program(raw)), prompt, state, deadline)
        head = self._complete(prompt, self.actions_grammar, deadline, state)
        actions = parse_actions(head)
        said = with_orders(said_round_trip(actions, task, catalog), orders, catalog)
        if said != actions:
            actions = said
            head = format_actions(actions)
        state['actions'] = actions
        state['raw'] = head.rstrip('\n')
        unsupported, round_trip = check_actions(actions, catalog)
        if unsupported or not actions:
            raise PlannerError(ErrorCode.UNSUPPORTED_TASK,
                               refusal_message(unsupported or ['(nothing)'], catalog))
        decided, why = decide_round_trip(task, round_trip, catalog.round_trip)
        move = parse_line(catalog.round_trip.last).function if catalog.round_trip else ''
        delivered_to = delivery_place(orders, places, move) if decided and not why else None
        if delivered_to:
            # "Bring the towel to the bedroom": it ends there, not back here.
            decided, why = False, f'the task takes it to the {delivered_to}'
        if why:
            state['round_trip_rule'] = why
        if decided != round_trip:
            # The program follows the line: make it say what the rules decided.
            actions = with_round_trip(actions, decided, catalog)
            state['actions'] = actions
            head = format_actions(actions)
            round_trip = decided
        if not head.endswith('\n'):
            head += '\n'
        grammar = self.round_trip_grammar if round_trip else self.plan_grammar
        raw = self._complete(prompt + head, grammar, deadline, state)
        state['raw'] = raw
        steps = tidy(parse_program(raw), catalog)
        if round_trip and not why and places.missing(steps, self._place_args,
                                                     self._object_args):
            # Back to the start without ever going where the task says:
            # the place named is where the task ends ("bring the cup to the
            # kitchen"), not the start. Unless the task's words ask for the
            # round trip, plan it one way.
            state['round_trip_rule'] = 'a place the task names is where it ends'
            actions = with_round_trip(actions, False, catalog)
            state['actions'] = actions
            head, round_trip = format_actions(actions), False
            raw = self._complete(prompt + head, self.plan_grammar, deadline, state)
            state['raw'] = raw
            steps = tidy(parse_program(raw), catalog)
        elif round_trip and not why and delivers_then_returns(steps, self.answer_format,
                                                              self.catalog, places):
            # "Bring the shampoo from the bathroom to the kitchen": the plan
            # takes it to the kitchen, then comes back unasked. It ends there.
            state['round_trip_rule'] = 'a place the task names is where it ends'
            actions = with_round_trip(actions, False, catalog)
            state['actions'] = actions
            head, round_trip = format_actions(actions), False
            steps = steps[1:-1]
        return self._checked(steps, prompt + head, state, deadline, places=places,
                             round_trip=round_trip)

    def _place_args(self, step):
        """Return the place literals of a step (arguments whose values are the map's)."""
        return step_literals(step, self.catalog, places=True)

    def _object_args(self, step):
        """Return the other text literals of a step (object names)."""
        return step_literals(step, self.catalog, places=False)

    def _unfinished(self, steps):
        """
        Return True when the last step stores what no step uses, from a lookup.

        A lookup is a skill that returns something and does no action of its
        own (no ``verbs`` in the catalog); only with the action line, whose
        catalog names verbs.
        """
        if self.actions_grammar is None or not steps or len(steps) >= self.config.max_steps:
            return False
        last = steps[-1]
        skill = self.catalog.get(last.function)
        return bool(last.store_result and skill is not None and not skill.verbs)

    def _checked(self, steps, prompt, state, deadline, places=None, round_trip=True):
        """
        Validate; repair a line that uses an unassigned variable, line by line.

        With ``places`` (:class:`TaskPlaces`, the action-line planner): a line
        naming a place the task does not name is decoded again, and so are
        the lines after it, their places limited to the task's; a plan
        without a round trip that never uses a place of the map the task
        names is continued.
        """
        config = self.config
        catalog, semantic_map = self.catalog, self.semantic_map
        if places is not None:
            steps = add_lookups(steps, self.catalog, places)
        index, error = _first_invalid(steps, catalog, semantic_map, config.max_steps)
        limit, banned = None, ()
        if places is not None:
            unasked = places.first_unasked(steps, self._place_args)
            if unasked is not None and steps[unasked].store_result:
                # Named after a place the task does not name: not that name again.
                banned = (steps[unasked].store_result,)
            if unasked is not None and (index is None or unasked <= index):
                index, error = unasked, PlannerError(
                    ErrorCode.INVALID_PLAN, f'step {unasked + 1} names a place the task '
                                            f'does not name')
            if unasked is not None:
                limit = places.literals()
            elif error is None and not round_trip:
                # Continued towards the named places the plan never went to.
                limit = places.missing(steps, self._place_args, self._object_args) or None
        if error is None and (self._unfinished(steps) or (limit is not None and index is None)):
            # A plan that ends looking up a place it never goes to, or that
            # never goes to a place the task names, stopped early: go on from
            # there, as a repair does.
            index, error = len(steps), PlannerError(
                ErrorCode.INVALID_PLAN, 'the plan stopped before doing all the task says')
        if error is None:
            return steps
        if error.code != ErrorCode.INVALID_PLAN:
            raise error
        # Keep the lines before the faulty one and decode from there one line
        # at a time, each under a grammar that admits only the variables
        # assigned so far (and of the right type).
        state['repairs'] += 1
        steps = steps[:index]
        lines = [s.text() for s in steps]
        var_types = validate(steps, catalog, semantic_map, config.max_steps) if steps else {}
        line_catalog, exclude = catalog, ()
        if places is not None and (not round_trip or any(
                step.store_result in self._one_way[1] for step in steps)):
            # Without a round trip no start; with one, it was stored first, once.
            line_catalog, exclude = self._one_way
        exclude = tuple(dict.fromkeys(exclude + banned))
        more = True
        while more and len(steps) < config.max_steps:
            grammar = line_gbnf(line_catalog, semantic_map, var_types,
                                strict_places=config.strict_places, places=limit,
                                exclude_vars=exclude)
            if grammar is None:
                raise error
            so_far = ''.join(line + '\n' for line in lines)
            text = self._complete(prompt + so_far, grammar, deadline, state)
            state['raw'] = so_far + text
            line = text.rstrip('\n')
            more = text.endswith('\n')
            steps.append(parse_line(line, len(steps) + 1))
            lines.append(line)
            # UNKNOWN_LOCATION (or a re-typed variable) ends it here.
            var_types = validate(steps, catalog, semantic_map, config.max_steps)
        return tidy(steps, catalog) if places is not None else steps


__all__ = ['Planner', 'PlanResult']
