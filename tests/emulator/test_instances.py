"""The schema-instance generator on hostile schemas: a bounded answer, never a hang or a 500."""

from __future__ import annotations

import json
import random
from typing import Any, Dict

import jsonschema
import pytest
import requests

from deepinfra_sdk.emulator import Emulator
from deepinfra_sdk.emulator._instances import instance

from .helpers import CHAT, chat_body

WIDE_CYCLE: Dict[str, Any] = {
    "$defs": {
        "node": {
            "type": "object",
            "properties": {f"p{i}": {"$ref": "#/$defs/node"} for i in range(10)},
        }
    },
    "$ref": "#/$defs/node",
}


def _size(value: Any) -> int:
    return len(json.dumps(value))


def test_a_wide_self_referencing_schema_gets_a_small_instance() -> None:
    # Ten properties that each refer back: 10**8 values at depth 8 without a budget.
    value = instance(WIDE_CYCLE, random.Random(0))
    assert isinstance(value, dict) and set(value) == {f"p{i}" for i in range(10)}
    assert _size(value) < 200_000


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "array", "minItems": 10**9, "items": {"type": "integer"}},
        {"type": "string", "minLength": 10**9},
        {"type": "array", "minItems": 10**9, "items": {"type": "string", "minLength": 10**9}},
    ],
)
def test_huge_sizes_are_capped(schema: Dict[str, Any]) -> None:
    assert _size(instance(schema, random.Random(0))) < 200_000


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer", "minimum": "x", "maximum": [1]},
        {"type": "number", "minimum": float("inf"), "exclusiveMaximum": float("nan")},
        {"type": "integer", "exclusiveMinimum": True},
        {"type": "number", "minimum": 10**400},
        {"type": "array", "minItems": "3", "maxItems": None, "items": {"type": "boolean"}},
        {"type": "string", "minLength": "5", "maxLength": 2.5},
        {"allOf": [{"properties": ["not", "a", "dict"]}, {"type": "object"}]},
        {"type": "string", "format": ["date"]},
        {"type": "object", "properties": {"a": {"type": "string", "format": {"x": 1}}}},
    ],
)
def test_malformed_keywords_are_ignored(schema: Dict[str, Any]) -> None:
    json.dumps(instance(schema, random.Random(0)))  # a JSON value, no exception


TREE = {
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                "next": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
            },
            "required": ["name", "children", "next"],
        }
    },
    "$ref": "#/$defs/Node",
}


def test_a_recursive_schema_ends_in_valid_leaves() -> None:
    for seed in range(20):
        jsonschema.validate(instance(TREE, random.Random(seed)), TREE)
    jsonschema.validate(instance(WIDE_CYCLE, random.Random(0)), WIDE_CYCLE)


def test_sane_bounds_still_hold() -> None:
    rng = random.Random(3)
    for _ in range(50):
        assert 5 <= instance({"type": "integer", "minimum": 5, "maximum": 7}, rng) <= 7
        n = instance({"type": "integer", "exclusiveMinimum": 5, "exclusiveMaximum": 7}, rng)
        assert n == 6
        items = instance({"type": "array", "minItems": 3, "maxItems": 4}, rng)
        assert 3 <= len(items) <= 4
        assert 6 <= len(instance({"type": "string", "minLength": 6, "maxLength": 9}, rng)) <= 9


def test_the_emulator_answers_a_hostile_tool_schema(
    emulator: Emulator, session: requests.Session
) -> None:
    tool = {"type": "function", "function": {"name": "walk", "parameters": WIDE_CYCLE}}
    r = session.post(emulator.url + CHAT, json=chat_body(tools=[tool], tool_choice="required"))
    assert r.status_code == 200
    arguments = r.json()["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert set(json.loads(arguments)) == {f"p{i}" for i in range(10)}
