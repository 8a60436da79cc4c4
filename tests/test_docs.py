"""Every ```python block in docs/ and README.md runs, against an embedded emulator.

The examples are what users copy, so each one is executed:

- Blocks of one page run in order in one namespace, so a page's setup carries to the blocks
  below it (and running one block alone, with ``-k``, runs the blocks above it first).
- The environment points the SDK at an emulator started here (``DEEPINFRA_API_KEY``,
  ``DEEPINFRA_BASE_URL``), so ``DeepInfraClient()`` works as the docs show it; examples that
  start their own ``Emulator()`` use theirs. Each page runs in its own working directory.
- A block with top-level ``await``/``async for``/``async with`` runs as a notebook cell would
  (``asyncio.run`` of the block compiled with top-level await allowed).
- The namespace is a module named ``__docs__``: a script's ``if __name__ == "__main__":``
  entry point (one that spawns worker processes, say) is defined but not run. Like a script's
  ``__main__``, it is in ``sys.modules`` while a block runs: code that looks a class's module
  up there (``typing.get_type_hints`` on Python 3.9) finds it.
- A ```text block directly after a python block (only blank lines between) is its expected
  standard output; ``...`` stands for any text, as in doctest.
- Nothing reaches the network: name resolution of anything but loopback is refused and
  reported, in every thread, while the examples run.

Code that must not run (shell commands, output, an install line) uses another fence
language (```bash, ```text, ```console): there is no skip marker.
"""

from __future__ import annotations

import ast
import asyncio
import doctest
import inspect
import ipaddress
import os
import re
import socket
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from deepinfra_sdk.emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]

# Fence languages that would look like Python to a reader but escape execution here.
PYTHON_ALIASES = frozenset({"py", "python3", "py3", "pycon", "ipython", "ipython3"})
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_PROXY_NAMES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@dataclass(frozen=True)
class Fence:
    """One fenced block of a Markdown page."""

    line: int  # 1-based line of the opening fence
    lang: str
    code: str


@dataclass(frozen=True)
class Example:
    """A python block, with the ```text block that shows its output, if any."""

    page: Path
    line: int
    code: str
    expected: Optional[str]

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT).as_posix()}:{self.line}"


def parse_fences(text: str) -> list[tuple[Fence, int]]:
    """The fenced blocks of a page, each with the line number just after its closing fence."""
    lines = text.splitlines()
    found: list[tuple[Fence, int]] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        indent, fence = m["indent"], m["fence"]
        words = m["info"].strip().split()
        lang = words[0].lower() if words else ""
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            line = lines[j]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            j += 1
        found.append((Fence(i + 1, lang, "\n".join(body) + "\n"), j + 2))
        i = j + 1
    return found


def parse_examples(page: Path, text: str) -> list[Example]:
    """The python blocks of a page, each paired with an output block right after it."""
    lines = text.splitlines()
    fences = parse_fences(text)
    examples = []
    for n, (fence, after) in enumerate(fences):
        if fence.lang != "python":
            continue
        expected = None
        if n + 1 < len(fences):
            nxt = fences[n + 1][0]
            between = lines[after - 1 : nxt.line - 1]
            if nxt.lang == "text" and not any(s.strip() for s in between):
                expected = nxt.code
        examples.append(Example(page, fence.line, fence.code, expected))
    return examples


def collect() -> list[Example]:
    return [e for page in PAGES for e in parse_examples(page, page.read_text(encoding="utf-8"))]


EXAMPLES = collect()


# -- running -----------------------------------------------------------------------------------


def _is_loopback(host: Any) -> bool:
    if host is None:
        return True
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name in ("", "localhost") or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def network_guard(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse (and record) every non-loopback name lookup, in every thread."""
    refused: list[str] = []
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            refused.append(str(host))
            raise socket.gaierror(socket.EAI_NONAME, f"docs tests: no network ({host})")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return refused


def run_code(
    code: str, namespace: dict[str, Any] | types.ModuleType, filename: str, first_line: int
) -> None:
    """Execute a block; line numbers in tracebacks are those of the Markdown file.

    A module namespace is registered in ``sys.modules`` while the block runs, as a script's
    ``__main__`` is.
    """
    if isinstance(namespace, types.ModuleType):
        name = namespace.__name__
        saved = sys.modules.get(name)
        sys.modules[name] = namespace
        try:
            run_code(code, vars(namespace), filename, first_line)
        finally:
            if saved is None:
                del sys.modules[name]
            else:
                sys.modules[name] = saved
        return
    source = "\n" * (first_line - 1) + code
    # dont_inherit: the block runs as a user's script would, without this module's
    # `from __future__ import annotations` (pydantic models in examples need that).
    compiled = compile(
        source, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )
    if compiled.co_flags & inspect.CO_COROUTINE:
        # A notebook-style block: its top-level awaits run in one event loop.
        asyncio.run(eval(compiled, namespace))
    else:
        exec(compiled, namespace)


def check_output(expected: str, got: str) -> None:
    want = "\n".join(line.rstrip() for line in expected.strip("\n").splitlines()) + "\n"
    have = "\n".join(line.rstrip() for line in got.strip("\n").splitlines()) + "\n"
    checker = doctest.OutputChecker()
    if not checker.check_output(want, have, doctest.ELLIPSIS):
        example = doctest.Example("", want)
        pytest.fail(checker.output_difference(example, have, doctest.ELLIPSIS), pytrace=False)


@dataclass
class PageRun:
    """What the blocks of one page share: names, environment changes, a directory."""

    workdir: Path
    module: types.ModuleType = field(default_factory=lambda: types.ModuleType("__docs__"))
    env: dict[str, Optional[str]] = field(default_factory=dict)
    done: dict[int, Optional[str]] = field(default_factory=dict)  # line -> failure

    @property
    def namespace(self) -> dict[str, Any]:
        return vars(self.module)


def _close_everything(namespaces: list[dict[str, Any]]) -> None:
    from deepinfra_sdk import AsyncDeepInfraClient, ChatStream, DeepInfra, DeepInfraClient

    for namespace in namespaces:
        for value in list(namespace.values()):
            if isinstance(value, (DeepInfraClient, ChatStream)):
                value.close()
            elif isinstance(value, AsyncDeepInfraClient):
                asyncio.run(value.aclose())
            elif isinstance(value, Emulator):
                value.stop()
    DeepInfra.close_clients()
    DeepInfra.models = []
    DeepInfra.image_models = []


@pytest.fixture(scope="module")
def docs_emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu
    assert emu.handler_errors == []


@pytest.fixture(scope="module")
def page_runs(
    docs_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[Path], PageRun]]:
    runs: dict[Path, PageRun] = {}

    def get(page: Path) -> PageRun:
        if page not in runs:
            from deepinfra_sdk import DeepInfra

            # Each page starts with the provider class as a fresh process would see it.
            DeepInfra.close_clients()
            DeepInfra.models = []
            DeepInfra.image_models = []
            runs[page] = PageRun(tmp_path_factory.mktemp(page.stem))
        return runs[page]

    yield get
    _close_everything([run.namespace for run in runs.values()])


def _execute(example: Example, run: PageRun, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run one block with the page's environment; remember what the block changed in it."""
    for name, value in run.env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    before = dict(os.environ)
    try:
        run_code(example.code, run.module, str(example.page), example.line + 1)
    except BaseException as exc:
        run.done[example.line] = f"{type(exc).__name__}: {exc}"
        raise
    else:
        run.done[example.line] = None
    finally:
        after = dict(os.environ)
        for name in set(before) | set(after):
            if before.get(name) != after.get(name):
                run.env[name] = after.get(name)
        # The process environment is restored; the page keeps its changes for later blocks.
        os.environ.clear()
        os.environ.update(before)


@pytest.fixture
def docs_env(docs_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment a reader would have: the SDK pointed at a DeepInfra, no proxy."""
    monkeypatch.setenv("DEEPINFRA_API_KEY", docs_emulator.api_key)
    monkeypatch.setenv("DEEPINFRA_BASE_URL", docs_emulator.url)
    for name in _PROXY_NAMES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.mark.usefixtures("docs_env")
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_docs_example_runs(
    example: Example,
    page_runs: Callable[[Path], PageRun],
    network_guard: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = page_runs(example.page)
    monkeypatch.chdir(run.workdir)
    # Blocks above this one (not yet run when this one was selected alone) come first.
    for earlier in (e for e in EXAMPLES if e.page == example.page and e.line < example.line):
        if earlier.line not in run.done:
            _execute(earlier, run, monkeypatch)
        if run.done[earlier.line] is not None:
            pytest.fail(
                f"the block at {earlier.id} above this one failed "
                f"({run.done[earlier.line]}); this one depends on it",
                pytrace=False,
            )
    capsys.readouterr()
    try:
        _execute(example, run, monkeypatch)
    finally:
        assert network_guard == [], f"{example.id} tried to reach the network: {network_guard}"
    if example.expected is not None:
        check_output(example.expected, capsys.readouterr().out)


# -- the harness itself ------------------------------------------------------------------------


def test_every_page_is_collected_and_has_examples() -> None:
    pages = {e.page for e in EXAMPLES}
    assert ROOT / "README.md" in pages
    for name in ("index", "getting-started", "models", "streaming", "images", "embeddings"):
        assert ROOT / "docs" / f"{name}.md" in pages, name


def test_getting_started_shows_the_readme_commands() -> None:
    """The two set-up commands (demo, tests) are the README's, character for character."""

    def commands(page: Path) -> list[str]:
        return [
            fence.code.strip()
            for fence, _ in parse_fences(page.read_text(encoding="utf-8"))
            if fence.lang == "bash" and "python -m pip install -e" in fence.code
        ]

    readme = commands(ROOT / "README.md")
    assert readme == [
        "python -m pip install -e . && deepinfra demo",
        'python -m pip install -e ".[test]" && python -m pytest',
    ]
    assert commands(ROOT / "docs" / "getting-started.md") == readme


def test_no_python_block_hides_under_another_fence_name() -> None:
    """```py or ```pycon would render as Python but escape execution: use ```python."""
    hidden = [
        f"{page.relative_to(ROOT)}:{fence.line} ({fence.lang})"
        for page in PAGES
        for fence, _ in parse_fences(page.read_text(encoding="utf-8"))
        if fence.lang in PYTHON_ALIASES
    ]
    assert hidden == []


def test_parser_pairs_a_block_with_the_output_right_after_it() -> None:
    page = ROOT / "docs" / "x.md"
    text = (
        "# t\n\n```python\nprint(1)\n```\n\n```text\n1\n```\n\n"
        "```python title='two'\nprint(2)\n```\nprose\n```text\nnot output\n```\n"
        "    ```python\n    x = 3\n    ```\n"
    )
    first, second, third = parse_examples(page, text)
    assert (first.line, first.code, first.expected) == (3, "print(1)\n", "1\n")
    assert (second.line, second.code, second.expected) == (11, "print(2)\n", None)
    assert (third.line, third.code) == (18, "x = 3\n")


def test_a_block_runs_in_a_module_python_can_find_as_a_script_does() -> None:
    module = types.ModuleType("__docs__")
    code = (
        "import typing\nfrom dataclasses import dataclass\n\n\nclass Other:\n    pass\n\n\n"
        "@dataclass\nclass Thing:\n    other: 'Other'\n\n\nhints = typing.get_type_hints(Thing)\n"
    )
    run_code(code, module, "p.md", 1)
    assert vars(module)["hints"] == {"other": vars(module)["Other"]}
    assert "__docs__" not in sys.modules  # only while the block runs


def test_a_failing_example_fails_and_output_is_compared(tmp_path: Path) -> None:
    namespace: dict[str, Any] = {}
    with pytest.raises(ZeroDivisionError) as info:
        run_code("x = 1\n\ny = 1 / 0\n", namespace, "docs/page.md", 10)
    assert info.traceback[-1].lineno + 1 == 12  # the Markdown line of `y = 1 / 0`
    run_code("async def f():\n    return 5\nz = await f()\n", namespace, "p.md", 1)
    assert namespace["x"] == 1 and namespace["z"] == 5
    check_output("a ... c\n", "a b c\n")
    with pytest.raises(pytest.fail.Exception):
        check_output("a\n", "b\n")


def test_the_guard_refuses_the_real_api(network_guard: list[str]) -> None:
    from deepinfra_sdk import APIConnectionError, DeepInfraClient

    with DeepInfraClient("key", base_url="https://api.deepinfra.com", max_retries=0) as client:
        with pytest.raises(APIConnectionError):
            client.models.list()
    assert network_guard == ["api.deepinfra.com"]
    network_guard.clear()


# -- the API reference ---------------------------------------------------------------------


def _documented_objects() -> set[int]:
    """ids of the objects the ``::: path`` directives of docs/reference/ render.

    A module directive renders the names in its ``__all__`` too, unless it says
    ``members: false``.
    """
    import importlib

    ids: set[int] = set()
    for page in (ROOT / "docs" / "reference").glob("*.md"):
        text = page.read_text(encoding="utf-8")
        for m in re.finditer(r"^::: ([\w.]+)\n((?:[ \t]+\S.*\n)*)", text, re.M):
            path, options = m[1], m[2]
            module_name, attr = path, None
            while True:
                try:
                    obj: Any = importlib.import_module(module_name)
                    break
                except ImportError:
                    module_name, _, last = module_name.rpartition(".")
                    attr = last if attr is None else f"{last}.{attr}"
            for part in (attr or "").split(".") if attr else ():
                obj = getattr(obj, part)
            ids.add(id(obj))
            if attr is None and "members: false" not in options:
                ids.update(id(getattr(obj, n)) for n in getattr(obj, "__all__", ()))
    return ids


@pytest.mark.parametrize(
    "module_name",
    ["deepinfra_sdk", "deepinfra_sdk.aio", "deepinfra_sdk.types", "deepinfra_sdk.emulator"],
)
def test_the_api_reference_covers_every_public_name(module_name: str) -> None:
    import importlib

    module = importlib.import_module(module_name)
    documented = _documented_objects()
    missing = [n for n in module.__all__ if id(getattr(module, n)) not in documented]
    assert missing == [], f"add `::: {module_name}.NAME` to a page of docs/reference/: {missing}"


# -- citations ---------------------------------------------------------------------------------

_CITED_FILE = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.md)\b")


def _docstrings() -> Iterator[tuple[str, str]]:
    """(where, text) of every docstring in the package: what the API reference renders."""
    for path in sorted((ROOT / "deepinfra_sdk").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                text = ast.get_docstring(node)
                if text:
                    where = f"{path.relative_to(ROOT)}:{getattr(node, 'name', '<module>')}"
                    yield where, text


def test_docs_cite_only_files_in_the_repository() -> None:
    """A page or docstring that names a Markdown file names one the reader can open."""
    texts = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in PAGES]
    missing = []
    for where, text in [*texts, *_docstrings()]:
        for cited in _CITED_FILE.findall(text):
            if cited.startswith(("http", "www")):
                continue
            here = (ROOT / where.split(":")[0]).parent
            places = [here / cited, ROOT / cited, ROOT / "docs" / cited]
            if not any(place.is_file() for place in places):
                missing.append(f"{where}: {cited}")
    assert missing == [], missing
    assert _CITED_FILE.findall("see wire.md, and docs/errors.md") == ["wire.md", "docs/errors.md"]


# -- the first five minutes ---------------------------------------------------------------------
#
# What a new user runs first (the README's quick start, getting-started's first script, the
# README's commands), as documented and with the usual first mistakes: no key, a wrong key, an
# OpenAI-style base URL, a server that is not there, no network. As documented, everything
# runs; after a mistake, the one error (or warning) names the fix, in one line, without
# private names, and for the command line without a traceback.

FIRST_KEY = "sk-first-five-minutes"
_PRIVATE_NAME = re.compile(r"\b_[A-Z]\w+|Connection\(|Errno")


def _first_blocks() -> list[Example]:
    """The README's quick-start script and getting-started's first script."""
    readme = parse_examples(ROOT / "README.md", (ROOT / "README.md").read_text(encoding="utf-8"))
    guide = ROOT / "docs" / "getting-started.md"
    first_script = next(
        e
        for e in parse_examples(guide, guide.read_text(encoding="utf-8"))
        if "max_tokens" in e.code
    )
    return [readme[0], first_script]


def _first_commands() -> list[list[str]]:
    """The README's `deepinfra ...` lines (but the emulator, which runs until stopped)."""
    import shlex

    commands = []
    for fence, _ in parse_fences((ROOT / "README.md").read_text(encoding="utf-8")):
        if fence.lang != "bash":
            continue
        for line in fence.code.splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["deepinfra"] and words[1:2] != ["emulator"]:
                commands.append(words[1:])
    assert commands, "the README shows no deepinfra command"
    return commands


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


Scenario = tuple[dict[str, Optional[str]], tuple[str, ...], tuple[str, ...]]


def _first_scenarios(emu: Emulator) -> dict[str, Scenario]:
    """name -> (the environment, what the error must say in Python, and on the command line;
    nothing: it must all work)."""
    down = f"http://127.0.0.1:{_free_port()}"
    no_key = ("no API key was sent", "DEEPINFRA_API_KEY")
    return {
        "as documented": ({"DEEPINFRA_API_KEY": FIRST_KEY, "DEEPINFRA_BASE_URL": emu.url}, (), ()),
        "an OpenAI-style base URL": (
            {"DEEPINFRA_API_KEY": FIRST_KEY, "DEEPINFRA_BASE_URL": emu.url + "/v1/openai"},
            (),
            (),
        ),
        "no key": ({"DEEPINFRA_API_KEY": None, "DEEPINFRA_BASE_URL": emu.url}, no_key, no_key),
        "a wrong key": (
            {"DEEPINFRA_API_KEY": "sk-wrong", "DEEPINFRA_BASE_URL": emu.url},
            ("the API key was rejected", "DEEPINFRA_API_KEY"),
            ("the API key was rejected", "DEEPINFRA_API_KEY"),
        ),
        "nothing listening": (
            {"DEEPINFRA_API_KEY": FIRST_KEY, "DEEPINFRA_BASE_URL": down},
            (f"could not connect to {down[7:]}", "DEEPINFRA_BASE_URL"),
            (f"could not connect to {down[7:]}", "DEEPINFRA_BASE_URL"),
        ),
        # The model list needs no key, so Python first meets the missing network; the
        # command line refuses the missing key before it sends anything.
        "offline, no key": (
            {"DEEPINFRA_API_KEY": None, "DEEPINFRA_BASE_URL": None},
            ("could not connect to api.deepinfra.com:443", "DEEPINFRA_BASE_URL"),
            no_key,
        ),
    }


def _assert_names_the_fix(message: str, needles: tuple[str, ...]) -> None:
    assert "\n" not in message.strip(), message
    assert not _PRIVATE_NAME.search(message), message
    for needle in needles:
        assert needle in message, (needle, message)


@pytest.mark.slow
def test_the_first_five_minutes_as_a_newcomer_walks_them(
    network_guard: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import subprocess
    import sys
    import warnings

    from deepinfra_sdk import DeepInfra, DeepInfraError, DeepInfraWarning

    monkeypatch.chdir(tmp_path)
    for name in _PROXY_NAMES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    script = Path(sys.executable).with_name("deepinfra")
    with Emulator(api_keys=[FIRST_KEY]) as emu:
        for scenario, (env, needles, cli_needles) in _first_scenarios(emu).items():
            for name, value in env.items():
                if value is None:
                    monkeypatch.delenv(name, raising=False)
                else:
                    monkeypatch.setenv(name, value)
            for block in _first_blocks():
                module = types.ModuleType("__docs__")
                error: Optional[DeepInfraError] = None
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", DeepInfraWarning)
                    try:
                        run_code(block.code, module, str(block.page), block.line + 1)
                    except DeepInfraError as err:
                        error = err
                    finally:
                        _close_everything([vars(module)])
                if needles:
                    assert error is not None, f"{scenario}: {block.id} ran, expected an error"
                    _assert_names_the_fix(str(error), needles)
                else:
                    assert error is None, f"{scenario}: {block.id} failed: {error}"
                for warning in caught:
                    assert issubclass(warning.category, DeepInfraWarning), warning
                    _assert_names_the_fix(str(warning.message), ("using the API root",))
                if "OpenAI" in scenario:
                    assert caught, f"{block.id}: the base URL was corrected silently"
            # The same, from the command line: the console script, as the README shows it.
            # A request that escaped to the network would meet a closed proxy port instead.
            child_env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPINFRA_")}
            child_env.update({k: v for k, v in env.items() if v is not None})
            trap = f"http://127.0.0.1:{_free_port()}"
            child_env.update(
                PYTHONWARNINGS="error", HTTPS_PROXY=trap, HTTP_PROXY=trap, NO_PROXY="127.0.0.1"
            )
            for argv in _first_commands():
                result = subprocess.run(
                    [str(script), *argv],
                    env=child_env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                assert "Traceback" not in result.stderr, (scenario, argv, result.stderr)
                if "--local" in argv or not cli_needles:
                    assert result.returncode == 0, (scenario, argv, result.stderr)
                    continue
                assert result.returncode == 1, (scenario, argv, result.stderr)
                (line,) = result.stderr.splitlines()
                assert line.startswith("deepinfra: error: "), line
                _assert_names_the_fix(line, cli_needles)
            DeepInfra.close_clients()
    # Only the offline scenario looked anything up, and only DeepInfra's own host.
    assert set(network_guard) == {"api.deepinfra.com"}
