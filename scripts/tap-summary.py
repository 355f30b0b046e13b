#!/usr/bin/env python3
"""Turn the guest's test output into per-subtest results.

usage: tap-summary.py GUEST_OUTPUT CONSOLE_LOG RESULTS_FILE [PREFIX]

GUEST_OUTPUT holds, for every program of tests/list, the lines
"=== RUN <prog>", its output, and "=== END <prog> rc=<n>".  A program that
prints TAP (top-level "ok N ..." / "not ok N ...") gives one result per line;
a "# SKIP" directive is a failure (every test is required), and a plan
("1..N") that the program did not complete is a failure.  Any other program
gives one result from its exit status (0 passes; 4, KSFT_SKIP, fails).
The console log must be free of WARN, BUG, lockdep and KASAN reports.
Appends "PASS|FAIL <PREFIX><name> [reason]" lines to RESULTS_FILE.
"""
import re
import sys

out_path, console_path, results_path = sys.argv[1:4]
prefix = sys.argv[4] if len(sys.argv) > 4 else ""
results = []


def add(ok, name, why=""):
    results.append(("PASS" if ok else "FAIL", name, why))


tap_re = re.compile(r"^(not ok|ok) (\d+)\s*-?\s*(.*?)\s*$")
plan_re = re.compile(r"^1\.\.(\d+)$")

prog, lines, seen = None, [], set()
expected = [l.split()[0] for l in open("/dev/stdin") if l.strip()]


def finish(prog, lines, rc):
    tap = [m for m in (tap_re.match(l) for l in lines) if m]
    plan = next((int(m.group(1)) for m in (plan_re.match(l) for l in lines) if m), None)
    if rc == 137 or rc == 143:
        why = "timed out"
    elif rc == 4:
        why = "SKIP (exit 4): a required test must run"
    else:
        why = "exit %d" % rc
    if not tap:
        add(rc == 0, prog, "" if rc == 0 else why)
        return
    notes = []
    for l in lines:
        m = tap_re.match(l)
        if not m:
            # What a subtest printed (stdout's "# " lines, stderr's
            # assertions) before its result.
            t = l.strip("# ").strip()
            if t and not re.match(r"(RUN|OK|FAIL|SKIP)\s", t):
                notes.append(t)
            continue
        status, num, desc = m.groups()
        name = "%s: %s" % (prog, desc.split(" # ")[0] or num)
        skip = re.search(r"#\s*SKIP", desc, re.I)
        if skip:
            add(False, name, "SKIP: a required test must run")
        elif status == "ok":
            add(True, name)
        else:
            # Why it failed, in the closing report: an assertion's place and
            # message (the last line) after what the subtest printed last.
            a = [i for i, t in enumerate(notes) if "Test Assertion Failure" in t]
            if a:
                i = a[-1]
                told = notes[max(0, i - 2):i] + notes[i + 1:i + 2] + notes[-1:]
            else:
                told = notes[-4:]
            add(False, name, " | ".join(told)[:500])
        notes = []
    if plan is not None and len(tap) < plan:
        add(False, "%s: plan" % prog, "%d of %d subtests reported (%s)" % (len(tap), plan, why))
    elif rc != 0:
        add(False, "%s: exit status" % prog, why)


rc_re = re.compile(r"^=== END (\S+) rc=(\d+)")
for raw in open(out_path, errors="replace"):
    l = raw.rstrip("\r\n")
    if l.startswith("=== RUN "):
        prog, lines = l.split()[2], []
        continue
    m = rc_re.match(l)
    if m and prog:
        finish(prog, lines, int(m.group(2)))
        seen.add(prog)
        prog = None
        continue
    if prog:
        lines.append(l)
if prog:
    add(False, prog, "the guest stopped while it ran")
    seen.add(prog)
for p in expected:
    if p not in seen:
        add(False, p, "never ran")

bad = re.compile(r"WARNING:|\[ cut here \]|BUG:|kernel BUG|KASAN:|UBSAN:|Oops|"
                 r"general protection fault|Kernel panic|(^|\] )INFO: |"
                 r"possible recursive locking|circular locking|"
                 r"list_add corruption|list_del corruption|Call Trace:")
hits = [l.rstrip() for l in open(console_path, errors="replace") if bad.search(l)]
add(not hits, "guest kernel log clean", "; ".join(hits[:3]))

with open(results_path, "a") as f:
    for s, n, w in results:
        f.write("%s %s%s%s\n" % (s, prefix, n, (" -- " + w) if w else ""))
