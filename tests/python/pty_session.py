"""Runs a command in a real pseudo-terminal, answers its prompts, and
reports what the terminal showed. The command runs under `sh`, which then
prints the exit status and `stty -a`, so a test can check that the
terminal's settings were restored however the command ended.

Usage: pty_session.py STEPS_JSON COMMAND [ARGS...]
STEPS_JSON is a JSON list of {"wait": TEXT, "keys": HEX}: for each step,
wait until the terminal shows TEXT (after the previous step's keys), then
type the bytes of HEX in one write.
Prints a JSON object: {"output": "<everything shown>", "answered": <steps
whose prompt appeared>}.
"""

import json
import os
import pty
import select
import sys
import time


def read_some(fd: int, wait: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], wait)
    if not ready:
        return b""
    try:
        return os.read(fd, 4096)
    except OSError:
        return b""


def main() -> int:
    steps = json.loads(sys.argv[1])
    command = sys.argv[2:]
    script = '"$0" "$@"; echo "EXIT_STATUS=$?"; stty -a'
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("sh", ["sh", "-c", script, *command])
    shown = b""
    answered = 0
    for step in steps:
        start = len(shown)
        wait = step["wait"].encode()
        deadline = time.time() + 30
        while wait not in shown[start:] and time.time() < deadline:
            shown += read_some(fd, 0.2)
        if wait not in shown[start:]:
            break
        # Let the program switch the terminal mode after printing.
        time.sleep(0.2)
        os.write(fd, bytes.fromhex(step["keys"]))
        answered += 1
    deadline = time.time() + 30
    while time.time() < deadline:
        shown += read_some(fd, 0.2)
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished:
            while chunk := read_some(fd, 0.2):
                shown += chunk
            break
    else:
        os.kill(pid, 9)
    report = {"output": shown.decode("utf-8", "replace"), "answered": answered}
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
