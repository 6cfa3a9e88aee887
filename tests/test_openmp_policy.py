"""``import mmimdb`` makes torch's OpenMP threads wait passively (they spin by default, which
costs a shared machine several times the time of a step), unless the user chose a policy or
torch was loaded first (then it is too late, and nothing is changed)."""
from __future__ import annotations

import os
import subprocess
import sys

SHOW = "import os; {first}import mmimdb; print(os.environ.get('OMP_WAIT_POLICY'))"


def _policy(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_import_sets_passive_waiting():
    assert _policy(SHOW.format(first="")) == "PASSIVE"


def test_a_policy_the_user_set_is_kept():
    assert _policy(SHOW.format(first=""), OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"


def test_nothing_changes_once_torch_is_loaded():
    # A stand-in module: importing the real torch in a child costs seconds, and only the name matters.
    loaded = "import sys, types; sys.modules['torch'] = types.ModuleType('torch'); "
    assert _policy(SHOW.format(first=loaded)) == "None"
