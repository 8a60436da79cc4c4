"""Structured outputs: parse() with a nested pydantic model, a dataclass and a schema dict,
sync and async, and its typed errors; the schemas and checks behind it (_jsonschema.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, Optional, Union

import jsonschema
import pydantic
import pytest

from deepinfra_sdk import (
    APIResponseValidationError,
    ArgumentTypeError,
    AsyncDeepInfraClient,
    CapabilityError,
    DeepInfraClient,
    LengthFinishReasonError,
    function_tool,
)
from deepinfra_sdk._jsonschema import coerce, schema_of
from deepinfra_sdk._structured import parse_completion, response_format_for
from deepinfra_sdk.emulator import Emulator

from .conftest import one_choice_completion

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
ASK = [{"role": "user", "content": "Describe a person."}]
CHAT = "/v1/openai/chat/completions"


class Address(pydantic.BaseModel):
    street: str
    city: str
    zip_code: Optional[str] = None


class Pet(pydantic.BaseModel):
    name: str
    kind: Literal["cat", "dog"]


class Person(pydantic.BaseModel):
    """A person."""

    name: str
    age: int = pydantic.Field(ge=0, le=130)
    address: Address
    pets: list[Pet]
    scores: dict[str, float] = {}


class Color(Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Dimensions:
    width: float
    height: float


@dataclass
class Product:
    name: str
    color: Color
    size: Dimensions
    tags: list[str] = field(default_factory=list)
    price: Optional[float] = None


def test_parse_a_nested_pydantic_model(emu: Emulator, emu_client: DeepInfraClient) -> None:
    done = emu_client.chat.completions.parse(model=MODEL, messages=ASK, response_format=Person)
    person = done.choices[0].message.parsed
    assert isinstance(person, Person) and isinstance(person.address, Address)
    assert all(isinstance(p, Pet) for p in person.pets) and 0 <= person.age <= 130
    assert Person.model_validate_json(done.text) == person
    sent = emu.requests[-1].json["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["name"] == "Person" and sent["json_schema"]["strict"] is True
    assert sent["json_schema"]["schema"] == Person.model_json_schema()


def test_parse_a_dataclass_and_a_schema_dict(emu_client: DeepInfraClient) -> None:
    done = emu_client.chat.completions.parse(model=MODEL, messages=ASK, response_format=Product)
    product = done.choices[0].message.parsed
    assert isinstance(product, Product) and isinstance(product.size, Dimensions)
    assert isinstance(product.color, Color)
    schema = {
        "title": "city facts",
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "rivers": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "rivers"],
    }
    facts = emu_client.chat.completions.parse(model=MODEL, messages=ASK, response_format=schema)
    value = facts.choices[0].message.parsed
    jsonschema.validate(value, schema)
    assert value == json.loads(facts.text)


def test_a_cut_answer_raises_length_finish_reason(emu_client: DeepInfraClient) -> None:
    with pytest.raises(LengthFinishReasonError, match="max_tokens") as info:
        emu_client.chat.completions.parse(
            model=MODEL, messages=ASK, response_format=Person, max_tokens=3
        )
    assert info.value.completion.choices[0].finish_reason == "length"
    assert isinstance(info.value, APIResponseValidationError)


def test_content_that_does_not_validate_keeps_the_raw_content(emu_client: DeepInfraClient) -> None:
    class Picky(pydantic.BaseModel):
        name: str

        @pydantic.field_validator("name")
        @classmethod
        def never(cls, value: str) -> str:
            raise ValueError("no name is good enough")

    with pytest.raises(APIResponseValidationError, match="no name is good enough") as info:
        emu_client.chat.completions.parse(model=MODEL, messages=ASK, response_format=Picky)
    assert json.loads(info.value.body)["name"]
    assert isinstance(info.value.__cause__, pydantic.ValidationError)


@pytest.mark.parametrize("response_format", [Person, Product, {"type": "object"}])
@pytest.mark.parametrize(
    "content", ["[" * 100_000 + "]" * 100_000, '{"name": "' + "x" * 5_000_000 + '"']
)
def test_hostile_content_is_a_validation_error(response_format: Any, content: str) -> None:
    # Nested deeper than Python recurses, or megabytes cut short: a typed error that keeps
    # the content, never a RecursionError.
    completion = one_choice_completion({"role": "assistant", "content": content})
    _, parser = response_format_for(response_format)
    with pytest.raises(APIResponseValidationError, match="does not fit") as info:
        parse_completion(completion, parser)
    assert info.value.body == content
    assert len(str(info.value)) < 3000


def test_a_model_without_schemas_is_a_capability_error_not_retried(
    emu: Emulator, emu_client: DeepInfraClient
) -> None:
    with pytest.raises(CapabilityError, match="json_object") as info:
        emu_client.chat.completions.parse(
            model="Sao10K/L3.1-70B-Euryale-v2.2",
            messages=ASK,
            response_format=Person,
            max_retries=3,
        )
    assert info.value.status_code == 405 and info.value.feature == "json_schema"
    assert emu.request_count(CHAT) == 1


def test_parse_refuses_what_it_cannot_describe(emu_client: DeepInfraClient) -> None:
    with pytest.raises(ArgumentTypeError, match=r"deepinfra-sdk\[pydantic\]"):
        emu_client.chat.completions.parse(model=MODEL, messages=ASK, response_format=int)
    with pytest.raises(ArgumentTypeError, match="create"):
        emu_client.chat.completions.parse(
            model=MODEL, messages=ASK, response_format=Person, stream=True
        )


@dataclass
class Tree:
    children: list[Tree]


@dataclass
class Unresolved:
    inner: NoSuchType  # type: ignore[name-defined]  # noqa: F821


def test_parse_refuses_a_dataclass_it_cannot_describe(emu_client: DeepInfraClient) -> None:
    # Typed argument errors before anything is sent, not a bare TypeError or NameError.
    for tp, problem in ((Tree, "contains itself"), (Unresolved, "do not resolve")):
        with pytest.raises(ArgumentTypeError, match=f"{tp.__name__}: .*{problem}"):
            emu_client.chat.completions.parse(model=MODEL, messages=ASK, response_format=tp)

    def uses(box: Unresolved) -> None:
        """Uses a dataclass whose field type does not exist."""

    with pytest.raises(ArgumentTypeError, match="do not resolve"):
        function_tool(uses)


@pytest.mark.anyio
async def test_async_parse(emu: Emulator) -> None:
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as emu_client:
        done = await emu_client.chat.completions.parse(
            model=MODEL, messages=ASK, response_format=Person
        )
        assert isinstance(done.choices[0].message.parsed, Person)
        with pytest.raises(LengthFinishReasonError):
            await emu_client.chat.completions.parse(
                model=MODEL, messages=ASK, response_format=Product, max_tokens=2
            )


# -- schemas and checks --------------------------------------------------------------------


def test_schemas_of_python_types_validate_the_values_coerce_accepts() -> None:
    schema = schema_of(Product)
    jsonschema.Draft202012Validator.check_schema(schema)
    value = {"name": "lamp", "color": "red", "size": {"width": 1, "height": 2.5}, "tags": ["x"]}
    jsonschema.validate(value, schema)
    product = coerce(Product, value)
    assert product == Product("lamp", Color.RED, Dimensions(1.0, 2.5), ["x"])
    assert schema_of(Union[int, str, None]) == {
        "anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]
    }
    assert schema_of(tuple[int, ...]) == {"type": "array", "items": {"type": "integer"}}
    assert coerce(tuple[int, str], [1, "a"]) == (1, "a")
    assert coerce(dict[str, list[int]], {"a": [1]}) == {"a": [1]}


@pytest.mark.parametrize(
    ("tp", "value", "where"),
    [
        (Product, {"name": "x", "color": "red"}, "size is missing"),
        (Product, {"name": "x", "color": "green", "size": {}}, "color should be one of"),
        (Product, {"name": 1, "color": "red", "size": {}}, "name should be a string"),
        (Dimensions, {"width": True, "height": 1}, "width should be a number"),
        (list[int], [1, "2"], "[1] should be an integer"),
        (Literal["a"], "b", "should be one of 'a'"),
    ],
)
def test_coerce_names_where_a_value_is_wrong(tp: Any, value: Any, where: str) -> None:
    with pytest.raises(ValueError) as info:
        coerce(tp, value)
    assert where in str(info.value)
