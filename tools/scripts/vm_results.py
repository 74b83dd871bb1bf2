#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn a VM test run's output directory into one verdict.

Reads what tools/scripts/vm-guest.sh left behind (ktap.txt, steps.txt,
dmesg.txt, kmemleak.txt, done), prints one line per result and, last,
exactly one line "N passed, N failed, N skipped". Exits 1 on any failure.

Counted as failures besides failing KTAP test points: a test program that
fails without a failing test point (crash, timeout), a failed runner step
(insmod, rmmod), a guest that never finished, every kernel splat in dmesg
(WARNING, BUG, lockdep, KASAN, hung task, ...) once our modules are loaded
(one before is the kernel's own boot: shown as skipped) and every
kmemleak report.
"""
import os
import re
import sys

# The first kernel log line of our modules.
OUR_MODULES_RE = re.compile(r"\b(cmis_emu|cmis_fw)\b")

# Kernel log lines that mean something went wrong, whatever the tests said.
SPLAT_PATTERNS = [
    r"WARNING: CPU: \d+ PID: \d+",
    r"WARNING: .*(locking|lock held|lock state|RCU usage|recursive)",
    r"\bBUG: ",
    r"kernel BUG at",
    r"Oops: ",
    r"general protection fault",
    r"Kernel panic",
    r"inconsistent lock state",
    r"possible (circular|recursive) locking",
    r"possible irq lock inversion",
    r"suspicious RCU usage",
    r"INFO: task .* blocked for more than",
    r"soft lockup",
    r"rcu: INFO: .* detected stalls",
    r"KASAN: ",
    r"UBSAN: ",
    r"ODEBUG: ",
    r"unregister_netdevice: waiting for",
    r"ref_tracker: .* has \d+/\d+ users",
    r"rust_panic|panicked at",
]
SPLAT_RE = re.compile("|".join(f"(?:{p})" for p in SPLAT_PATTERNS))

TOP_RE = re.compile(r"^(not )?ok \d+ selftests: (\S+): (\S+)(.*)$")
NESTED_RE = re.compile(r"^# (not )?ok \d+ (.*?)(?: # (SKIP|XFAIL|TODO)\b.*)?$")
START_RE = re.compile(r"^# selftests: (\S+): (\S+)$")
# Written by cmis_lib.sh as each test starts, and by vm-guest.sh after the last.
MARK_RE = re.compile(r"^\[\s*(\d+\.\d+)\] cmis_fw selftest: (\S+)$")


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def add(self, verdict, name, detail=""):
        if verdict == "ok":
            self.passed += 1
        elif verdict == "skip":
            self.skipped += 1
        else:
            self.failed += 1
        label = {"ok": "ok  ", "skip": "SKIP", "fail": "FAIL"}[verdict]
        print(f"  {label} {name}{(' -- ' + detail) if detail else ''}")


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None


def ktap(tally, text):
    """Counts nested test points; a program counts once by itself only when
    it printed none, or when it failed without a failing test point."""
    prog, nested = None, {"ok": 0, "skip": 0, "fail": 0}
    for line in text.splitlines():
        m = START_RE.match(line)
        if m:
            prog, nested = f"{m.group(1)}/{m.group(2)}", {"ok": 0, "skip": 0, "fail": 0}
            continue
        m = NESTED_RE.match(line)
        if m and prog:
            not_ok, desc, directive = m.groups()
            if directive == "SKIP":
                verdict = "skip"
            elif directive == "XFAIL":
                verdict = "ok"
            else:
                verdict = "fail" if not_ok else "ok"
            nested[verdict] += 1
            tally.add(verdict, f"{prog}: {desc}")
            continue
        m = TOP_RE.match(line)
        if m:
            not_ok, suite, name, rest = m.groups()
            name = f"{suite}/{name}"
            if "# SKIP" in rest:
                if sum(nested.values()) == 0:
                    tally.add("skip", name, rest.strip("# "))
            elif not_ok:
                if nested["fail"] == 0:
                    tally.add("fail", name, f"exited with failure{rest}")
            elif sum(nested.values()) == 0:
                tally.add("ok", name)
            prog = None


def test_times(dmesg):
    """(test, seconds) from the start marks in the kernel log."""
    marks = [(m.group(2), float(m.group(1)))
             for m in map(MARK_RE.match, dmesg.splitlines()) if m]
    return [(name, nxt - start)
            for (name, start), (_, nxt) in zip(marks, marks[1:])]


def main():
    out = sys.argv[1]
    tally = Tally()
    print(f"VM results ({out}):")

    if not os.path.exists(os.path.join(out, "done")):
        tally.add("fail", "vm", "the guest did not finish (see vng.log and console)")

    for line in (read(os.path.join(out, "steps.txt")) or "").splitlines():
        step, _, rc = line.partition(" ")
        if step == "run_kselftest":
            continue  # judged through its KTAP output
        tally.add("ok" if rc == "0" else "fail", f"runner: {step}",
                  "" if rc == "0" else f"exit status {rc}")

    text = read(os.path.join(out, "ktap.txt"))
    if text is not None:
        ktap(tally, text)

    dmesg = read(os.path.join(out, "dmesg.txt")) or ""
    # A splat before either module was loaded is the kernel's own boot
    # (e.g. the sanitizer kernel's KASAN report on an early interrupt
    # under TCG, in identify_cpu): shown, not counted against the tests.
    ours = False
    for line in dmesg.splitlines():
        ours = ours or bool(OUR_MODULES_RE.search(line))
        if SPLAT_RE.search(line):
            if ours:
                tally.add("fail", "kernel splat", line.strip())
            else:
                tally.add("skip", "kernel splat before our modules loaded", line.strip())

    times = test_times(dmesg)
    if times:
        print("  time per test: " + ", ".join(f"{name} {secs:.0f} s" for name, secs in times))

    leaks = read(os.path.join(out, "kmemleak.txt")) or ""
    for m in re.finditer(r"unreferenced object (\S+) \(size (\d+)\)", leaks):
        tally.add("fail", "kmemleak", f"object {m.group(1)}, {m.group(2)} bytes")

    with open(os.path.join(out, "counts"), "w") as f:
        f.write(f"{tally.passed} {tally.failed} {tally.skipped}\n")
    print(f"{tally.passed} passed, {tally.failed} failed, {tally.skipped} skipped")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
