"""Rasa's API token reaches ``rasa run`` whatever characters it holds: a
random token may begin with "-", which argparse once read as a flag, and Rasa
exited with "argument -t/--auth-token: expected one argument"."""
from __future__ import annotations

import os
import subprocess

import pytest

from bot import paths
from bot.processes import _RASA_WITH_TOKEN

# The launcher's own words, with Rasa's ``main`` swapped for one that parses the
# arguments with Rasa's parser and prints the token it would serve with.
_PARSE_ONLY = ("import rasa.__main__ as m\n"
               "m.main = lambda: print(m.create_argument_parser().parse_args().auth_token)\n"
               + _RASA_WITH_TOKEN.replace("; ", "\n"))


@pytest.mark.parametrize("token", ["-leading-dash", "--double", "plain_token", "a=b-c"])
def test_rasa_parses_the_token_it_was_given(token: str) -> None:
    result = subprocess.run([str(paths.VENV_BIN / "python"), "-c", _PARSE_ONLY, "run", "--enable-api"],
                            env={**os.environ, "KARA_RASA_TOKEN": token},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == token
