"""Run one command and record its wall time and peak RSS, for scripts/bench.mjs.

Usage: python3 measure.py RESULT_JSON -- COMMAND [ARGS...]

Node cannot read a child's peak RSS, so each benchmarked process runs under this wrapper:
getrusage(RUSAGE_CHILDREN) after the wait gives the child's (and its waited-for descendants')
peak resident set size. The wall time is taken here around the child alone, so this
interpreter's own start-up is not counted. The child's stdout and stderr are inherited.
Writes {"wall_s", "user_s", "sys_s", "max_rss_kb", "exit_code"} to RESULT_JSON; the exit
status of this wrapper is 0 unless it could not run the child.
"""

import json
import resource
import subprocess
import sys
import time


def main(argv):
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: measure.py RESULT_JSON -- COMMAND [ARGS...]\n")
        return 2
    result_path, command = argv[0], argv[2:]
    start = time.perf_counter()
    try:
        exit_code = subprocess.call(command)
    except OSError as error:
        sys.stderr.write(f"measure.py: cannot run {command[0]}: {error}\n")
        return 1
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "wall_s": wall,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        # Linux reports ru_maxrss in KiB.
        "max_rss_kb": usage.ru_maxrss,
        "exit_code": exit_code,
    }
    with open(result_path, "w") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
