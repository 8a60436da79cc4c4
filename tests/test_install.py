"""The README's install, done as a new user does it, leaves the package visible to editors.

A copy of the checkout is installed into a fresh virtual environment with the README's set-up
command, verbatim; then pyright (the engine of VS Code's Pylance) and mypy check a snippet
outside the repository against that environment. They must resolve ``deepinfra_sdk``, see
concrete types, and flag misspelled keywords (sync and async). An editable install that works through an
import hook (setuptools' default for this layout) fails here: static tools cannot follow it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

from .conftest import mypy_names_overload_keywords

ROOT = Path(__file__).resolve().parents[1]
# What a fresh clone would not hold: never copied into the test's checkout.
_NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "venv",
    "build",
    "dist",
    "site",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    "deepinfra-demo",
)

SNIPPET = textwrap.dedent(
    """
    from deepinfra_sdk import AsyncDeepInfraClient, DeepInfraClient

    client = DeepInfraClient(api_key="x")
    reveal_type(client.models.text_models())
    reveal_type(client.embeddings.create(input="hello"))
    reveal_type(client.images.generate("a fox").images)
    client.embeddings.create(input="hello", dimension=8)
    client.chat.completions.create(model="a/b", messages=[], max_token=5)


    async def main() -> None:
        aclient = AsyncDeepInfraClient(api_key="x")
        await aclient.images.generate("a fox", hieght=64)
    """
)
EXPECTED_TYPES = ["list[str]", "EmbeddingResponse", "List[str]"]


def readme_setup_command() -> str:
    """The README's first set-up command (install, then the demo)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(python -m pip install -e [^\n]*)\n```", text)
    assert commands, "the README has no `python -m pip install -e` command"
    return commands[0]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv where the README's command installed a fresh copy of the checkout;
    returns the venv's python."""
    base = tmp_path_factory.mktemp("readme-install")
    checkout = base / "checkout"
    shutil.copytree(ROOT, checkout, ignore=_NOT_IN_A_CLONE)
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("DEEPINFRA_")
    }
    # "Activating" the venv: its python and its console scripts come first on PATH.
    env["PATH"] = os.pathsep.join([str(bindir), env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(env_dir)
    command = readme_setup_command()
    result = subprocess.run(
        command,
        shell=True,
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{command!r} failed:\n{result.stdout}\n{result.stderr}"
    assert "cost summary" in result.stdout  # the demo ran, from the console script
    return bindir / "python"


def _outside(tmp_path: Path) -> Path:
    folder = tmp_path / "my-project"
    folder.mkdir()
    (folder / "snippet.py").write_text(SNIPPET, encoding="utf-8")
    return folder


@pytest.mark.slow
def test_pyright_sees_the_readme_install(installed: Path, tmp_path: Path) -> None:
    folder = _outside(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", str(installed)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(result.stdout)
    messages = [(d["severity"], d["message"]) for d in report["generalDiagnostics"]]
    errors = [m for s, m in messages if s == "error"]
    assert not any("could not be resolved" in m for m in errors), messages
    assert len(errors) == 3, messages
    assert errors[0] == 'No parameter named "dimension"', messages
    # chat's create is overloaded (on stream=): pyright says no overload takes the call.
    assert errors[1].startswith('No overloads for "create"'), messages
    assert errors[2] == 'No parameter named "hieght"', messages
    revealed = [m for s, m in messages if s == "information" and m.startswith("Type of")]
    assert len(revealed) == len(EXPECTED_TYPES), messages
    for message, expected in zip(revealed, EXPECTED_TYPES):
        assert message.endswith(f'is "{expected}"'), messages


@pytest.mark.slow
def test_mypy_sees_the_readme_install(installed: Path, tmp_path: Path) -> None:
    folder = _outside(tmp_path)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--python-executable",
            str(installed),
            "snippet.py",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = result.stdout
    assert "Cannot find implementation" not in out, out
    assert 'Unexpected keyword argument "dimension"' in out, out
    assert 'Unexpected keyword argument "hieght"' in out, out
    if mypy_names_overload_keywords():
        assert 'Unexpected keyword argument "max_token"' in out, out
    else:
        assert 'snippet.py:9: error: No overload variant of "create" of "Completions"' in out, out
    # mypy writes "builtins.list[builtins.str]" before 1.16, "list[str]" from then on.
    assert re.search(r'Revealed type is "(builtins\.)?list\[(builtins\.)?str\]"', out), out
    assert 'Revealed type is "deepinfra_sdk.types.EmbeddingResponse"' in out, out
    # Each misspelling flagged (an overloaded create gets a second line), nothing else.
    flagged = {line.split(":")[1] for line in out.splitlines() if ": error:" in line}
    assert flagged == {"8", "9", "14"}, out
