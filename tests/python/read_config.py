"""Reads a client config file with Python's own parsers, as a client in
another language would, and prints it as JSON. Exits 1 on a parse error
without quoting the file.

Usage: read_config.py json|toml FILE
"""

import json
import sys
import tomllib


def main() -> int:
    kind, path = sys.argv[1], sys.argv[2]
    try:
        with open(path, "rb") as handle:
            if kind == "toml":
                value = tomllib.load(handle)
            elif kind == "json":
                value = json.load(handle)
            else:
                print(f"unknown kind {kind}", file=sys.stderr)
                return 2
    except (ValueError, tomllib.TOMLDecodeError) as err:
        print(f"{kind} parse error: {type(err).__name__}", file=sys.stderr)
        return 1
    json.dump(value, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
