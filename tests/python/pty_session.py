"""Runs a command in a real pseudo-terminal, types keys into it, and
reports what the terminal showed. The command runs under `sh`, which then
prints the exit status and `stty -a`, so a test can check that the
terminal's settings were restored however the command ended.

Usage: pty_session.py KEYS_JSON COMMAND [ARGS...]
KEYS_JSON is a JSON list of chunks, each a hex string of bytes written in
one write; the script waits for the terminal to go quiet before each.
Prints a JSON object: {"output": "<everything shown>"}.
"""

import json
import os
import pty
import select
import sys
import time


def read_until_quiet(fd: int, quiet: float) -> bytes:
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], quiet)
        if not ready:
            return out
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return out
        if not chunk:
            return out
        out += chunk


def main() -> int:
    chunks = [bytes.fromhex(c) for c in json.loads(sys.argv[1])]
    command = sys.argv[2:]
    script = '"$0" "$@"; echo "EXIT_STATUS=$?"; stty -a'
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("sh", ["sh", "-c", script, *command])
    shown = read_until_quiet(fd, 1.0)
    for chunk in chunks:
        os.write(fd, chunk)
        time.sleep(0.1)
        shown += read_until_quiet(fd, 0.3)
    deadline = time.time() + 30
    while time.time() < deadline:
        more = read_until_quiet(fd, 0.5)
        shown += more
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished:
            shown += read_until_quiet(fd, 0.2)
            break
    else:
        os.kill(pid, 9)
    json.dump({"output": shown.decode("utf-8", "replace")}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
