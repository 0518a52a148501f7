#!/usr/bin/env python3
"""Where a server's CPU goes, by stack: reads `perf script -F comm,tid,ip,sym,dso` of a
`perf record --call-graph dwarf` profile (e.g. ../shared/perf/profile.sh's dwarf.data) and puts
each sample in the first bucket one of its frames names (RSA signing before the JS actions before
SQLite, ...); kernel samples are prefixed `kernel:` and bucketed by their user frames
(README, Performance, session 11).
usage: perf script -i dwarf.data -F comm,tid,ip,sym,dso | scripts/perf_buckets.py"""
import collections
import sys

BUCKETS = [
    ("rsa", ["EVP_DigestSignFinal", "RSA_sign", "EVP_PKEY_sign"]),
    ("rand", ["rand_bytes", "RAND_bytes"]),
    ("js", ["JsAction::run"]),
    ("sqlite", ["sqlite3", "rusqlite"]),
    ("serde", ["serde_json", "serde"]),
    ("tracing", ["tracing_subscriber", "tracing_core", "tracing::"]),
    ("http", ["hyper", "axum", "tower", "http::"]),
    ("tokio", ["tokio::", "mio::"]),
]


def bucket(stack):
    text = "\n".join(stack)
    name = next((b for b, pats in BUCKETS if any(p in text for p in pats)), "other")
    return ("kernel:" + name) if "kernel.kallsyms" in stack[0] else name


def main():
    counts, stack, total = collections.Counter(), [], 0
    for line in list(sys.stdin) + ["end\n"]:
        if line.startswith("\t") or line.startswith(" "):
            if line.strip():
                stack.append(line.strip())
            continue
        if stack:
            counts[bucket(stack)] += 1
            total += 1
        stack = []
    for name, n in counts.most_common():
        print(f"{100 * n / max(total, 1):6.2f}% {name}")
    print(f"{total} samples")


if __name__ == "__main__":
    main()
