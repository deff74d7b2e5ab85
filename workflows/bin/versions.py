#!/usr/bin/env python3
"""Writes a process's versions.yml in nf-core's convention: the process name, then tool: version pairs. Versions of
Python (always: every step runs it) and its distributions are read from the running interpreter (--dist), others are given by the caller
(--tool name=version, e.g. from `STAR --version`). Standard library only: it runs in every image. Values are written
as JSON strings, which YAML reads as the same strings."""

import argparse
import importlib.metadata
import json
import platform


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--process", required=True, help="task.process")
    ap.add_argument("--dist", nargs="*", default=[], help="Python distributions whose installed version to record")
    ap.add_argument("--tool", nargs="*", default=[], help="name=version pairs")
    ap.add_argument("--out", default="versions.yml")
    a = ap.parse_args()
    tools = {"python": platform.python_version()}
    for d in a.dist:
        try:
            tools[d] = importlib.metadata.version(d)
        except importlib.metadata.PackageNotFoundError:
            tools[d] = "not installed"
    for pair in a.tool:
        name, _, version = pair.partition("=")
        tools[name] = version.strip() or "unknown"
    with open(a.out, "w") as f:
        f.write(f"{json.dumps(a.process)}:\n")
        for name, version in tools.items():
            f.write(f"  {json.dumps(name)}: {json.dumps(version)}\n")


if __name__ == "__main__":
    main()
