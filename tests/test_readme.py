"""Every shell command of the README runs as written (in a copy of the project's config/).

Skipped, and why: ``make ...`` (sets up the virtualenv and runs this very suite; CI runs it),
commands naming ``config/exchange.example.toml`` (they need a real exchange and its keys), and
the systemd commands (they need systemd as init). A desk command without ``--duration`` is
run until the desk is up, steered with the README's ``actors ctl`` commands, then stopped
with SIGINT as an operator would.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.test_operator import until

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "actors"
ACTORS = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "actors.cli"]

pytestmark = pytest.mark.e2e


def readme_commands() -> list[str]:
    """The commands of the README's ``sh`` blocks, comments stripped."""
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(shlex.join(words))
    return commands


def skipped(command: str) -> str | None:
    """Why a README command is not run here (None: it is)."""
    if command.startswith("make "):
        return "make sets up the virtualenv and runs this suite"
    if "exchange.example.toml" in command:
        return "needs a real exchange and its keys"
    if command.startswith(("systemctl", "journalctl")):
        return "needs systemd as init"
    return None


def argv(command: str) -> list[str]:
    words = shlex.split(command)
    assert words[0] == "actors", f"README command does not start with actors: {command}"
    return [*ACTORS, *words[1:]]


def test_every_readme_command_runs_as_written(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    commands = [c for c in readme_commands() if skipped(c) is None]
    assert any(c.startswith("actors run") for c in commands), commands

    def run(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv(command), capture_output=True, text=True, timeout=120, cwd=tmp_path
        )

    ctl = [c for c in commands if c.startswith("actors ctl")]
    steered = False
    for command in commands:
        if command in ctl:
            continue  # run below, against a desk started by a README command
        words = shlex.split(command)
        if words[1] == "run" and "--duration" not in words:
            log = tmp_path / "desk.log"
            with log.open("w") as stderr:  # a file, not a pipe: nobody reads while ctl runs
                process = subprocess.Popen(
                    argv(command), stderr=stderr, stdout=subprocess.DEVNULL, cwd=tmp_path
                )
            try:
                until(lambda log=log: "desk up:" in log.read_text(), 90, "the desk to be up")
                for each in ctl:
                    result = run(each)
                    assert result.returncode == 0, f"{each}\n{result.stderr}"
                    assert result.stdout.strip(), each
                steered = True
                process.send_signal(signal.SIGINT)
                process.wait(timeout=60)
                err = log.read_text()
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            assert process.returncode == 0, f"{command}\n{err[-3000:]}"
            assert "run summary:" in err
        elif words[1] == "sim-exchange":
            process = subprocess.Popen(
                argv(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                cwd=tmp_path,
            )  # fmt: skip
            try:
                assert process.stdout is not None
                line = json.loads(process.stdout.readline())
                # Answered only once the process has its SIGINT handler (it prints first).
                ping = {"binance": "/api/v3/ping", "okx": "/api/v5/public/time"}
                context = (
                    ssl.create_default_context(cafile=line["certificate"])
                    if "certificate" in line
                    else None
                )
                with urllib.request.urlopen(
                    line["url"] + ping[line["protocol"]], timeout=30, context=context
                ) as response:
                    assert response.status == 200 and json.loads(response.read()) is not None
                process.send_signal(signal.SIGINT)
                assert process.wait(timeout=30) == 0, command
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        else:
            result = run(command)
            assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
    assert steered or not ctl, f"no README desk ran without --duration for {ctl}"
    summary = json.loads((tmp_path / "var" / "summary.json").read_text())
    assert summary["trading"]["source"] == "journal"


def test_the_skipped_readme_commands_are_the_ones_named() -> None:
    reasons = {c: skipped(c) for c in readme_commands()}
    assert {c for c, why in reasons.items() if why} == {"make run", "make test"}
