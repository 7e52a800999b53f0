#!/usr/bin/env python3
"""spec_ids.py - the test case ids of the BSI's test specification
TR-03153-1-TS v1.1.1 (its Markdown text), and the check that
docs/conformance.md maps every one of them.

  spec_ids.py SPEC.md
      prints the ids of the test case tables of chapter 6, in the order of
      the specification, each once.
  spec_ids.py --check SPEC.md CONFORMANCE.md SOURCE.c...
      checks that the table of CONFORMANCE.md has exactly one row per id of
      the specification (none missing, none extra, none twice), that every
      test a row names (`file.c:T_ID`) exists in that source file, and that
      every T_ function of the sources is named by the row of its id.
  spec_ids.py --exceptions TR-03151-1.md se_api.h
      SDI_ERR_01: every exception of TR-03151-1 3.1.1 is a constant of the
      header named by TR-03151-2's appendix rule (ErrorTimeNotSet ->
      ERROR_TIME_NOT_SET), every value negative and used once, EXECUTION_OK 0.
"""
import re
import sys

ID = r"[A-Z]{2,4}(?:_[A-Z]{2,4})?_[0-9]{2}"


def spec_ids(path):
    """The ids in the first cell of the table rows of chapter 6 "Module"
    (the table of contents before it names ids too)."""
    ids, seen, in_modules = [], set(), False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if re.match(r"^## .*6 Module\b", line):
                in_modules = True
            elif re.match(r"^## .*7 Testf", line):
                in_modules = False
            m = in_modules and re.match(r"^\|\s*(" + ID + r")\b", line)
            if m and m.group(1) not in seen:
                seen.add(m.group(1))
                ids.append(m.group(1))
    return ids


def doc_rows(path):
    """(id, covered-by cell) of every table row of the document whose first cell is an id."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\|\s*(" + ID + r")\s*\|", line)
            if m:
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                rows.append((m.group(1), cells[-1] if len(cells) > 2 else ""))
    return rows


def check(spec, doc, sources):
    problems = []
    want = spec_ids(spec)
    if len(want) < 300:
        problems.append("%s: only %d test case ids found; is it the TR-03153-1-TS text?" % (spec, len(want)))
    rows = doc_rows(doc)
    got = [r[0] for r in rows]
    for i in sorted(set(want) - set(got)):
        problems.append("%s: test case %s of the specification has no row" % (doc, i))
    for i in sorted(set(got) - set(want)):
        problems.append("%s: %s is no test case id of the specification" % (doc, i))
    for i in sorted({g for g in got if got.count(g) > 1}):
        problems.append("%s: %s has %d rows" % (doc, i, got.count(i)))
    defined = {}
    for src in sources:
        with open(src, encoding="utf-8") as f:
            text = f.read()
        name = src.rsplit("/", 1)[-1]
        for fn in re.findall(r"^(?:static )?void (T_" + ID + r")\(void \*\*state\)", text, re.M):
            defined[fn] = name
    named = set()
    for i, cell in rows:
        for file, fn in re.findall(r"([a-z_]+\.c):(T_" + ID + r")", cell):
            if defined.get(fn) != file:
                problems.append("%s: the row of %s names %s:%s, which does not exist" % (doc, i, file, fn))
            elif fn == "T_" + i:
                named.add(fn)
    for fn in sorted(set(defined) - named):
        problems.append("%s: the test %s:%s is not named by the row of its id" % (doc, defined[fn], fn))
    for p in problems:
        print(p)
    if not problems:
        print("%d test cases, %d of them covered by %d tests" % (len(want), len(named), len(defined)))
    return 1 if problems else 0


def exceptions(tr, header):
    lines = open(tr, encoding="utf-8").read().split("\n")
    names, inside = [], False
    for line in lines:
        if line.startswith("### 3.1.1 "):
            inside = True
        elif line.startswith("### 3.1.2"):
            inside = False
        m = inside and re.match(r"^\|\s*(Error[A-Za-z]+)\s*\|", line)
        if m:
            names.append(m.group(1))
    text = open(header, encoding="utf-8").read()
    defs = dict(re.findall(r"^#define ([A-Z_]+) (-?[0-9]+)$", text, re.M))
    problems = []
    if len(names) < 80:
        problems.append("%s: only %d exceptions found in 3.1.1; is it TR-03151-1 v1.1.1?" % (tr, len(names)))
    for n in names:
        c = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", n).upper()
        if c not in defs:
            problems.append("%s: no %s for the exception %s" % (header, c, n))
        elif int(defs[c]) >= 0:
            problems.append("%s: %s is %s, not negative" % (header, c, defs[c]))
    values = [v for k, v in defs.items() if k.startswith(("ERROR_", "MEMORY_ERROR_"))]
    for v in sorted({v for v in values if values.count(v) > 1}):
        problems.append("%s: the value %s is given twice" % (header, v))
    if defs.get("EXECUTION_OK") != "0":
        problems.append("%s: EXECUTION_OK is not 0" % header)
    for p in problems:
        print(p)
    if not problems:
        print("%d exceptions of TR-03151-1, each an ERROR_ constant of %s" % (len(names), header.rsplit("/", 1)[-1]))
    return 1 if problems else 0


def main(argv):
    if len(argv) == 2 and not argv[1].startswith("-"):
        print("\n".join(spec_ids(argv[1])))
        return 0
    if len(argv) == 4 and argv[1] == "--exceptions":
        return exceptions(argv[2], argv[3])
    if len(argv) >= 4 and argv[1] == "--check":
        return check(argv[2], argv[3], argv[4:])
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
