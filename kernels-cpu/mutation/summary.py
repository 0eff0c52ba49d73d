#!/usr/bin/env python3
"""Sums PIT's mutations.xml of every shard directory under the given directory: one line per class, then the total.

Score = killed (incl. timed out and memory errors, as PIT counts them) / (all mutants - those listed in
kernels-cpu/mutation-survivors.md as `equivalent` or `removed`). A second score also counts the survivors listed as
`closed` (killed by a TCK change made after the shard ran, each re-checked by mutation/hand-mutants.sh) as killed.

  summary.py [DIR]             the table (DIR: shard directories with PIT's mutations.xml, or keep.py's .tsv files)
  summary.py --unlisted [DIR]  every surviving or uncovered mutant that mutation-survivors.md does not list yet, as a
                               table row to fill in (verdict, reason); exit 1 if there is one"""
import collections, pathlib, re, sys
import xml.etree.ElementTree as ET

args = [a for a in sys.argv[1:] if a != "--unlisted"]
unlisted_mode = "--unlisted" in sys.argv[1:]
root = pathlib.Path(args[0] if args else "kernels-cpu/target/pit-shards")
survivors_md = pathlib.Path(__file__).resolve().parent.parent / "mutation-survivors.md"
equivalent = set()   # equivalent or removed: out of the denominator
closed = set()
listed = set()
if survivors_md.exists():
    # a table row: | Class | method | line | mutator | verdict | reason |
    for row in survivors_md.read_text().splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) >= 5:
            listed.add((cells[0], cells[1], cells[2], cells[3]))
            if cells[4] in ("equivalent", "removed"):
                equivalent.add((cells[0], cells[1], cells[2], cells[3]))
            if cells[4] == "closed":
                closed.add((cells[0], cells[1], cells[2], cells[3]))

KILLED = {"KILLED", "TIMED_OUT", "MEMORY_ERROR", "RUN_ERROR"}
per_class = collections.defaultdict(collections.Counter)
unlisted = []


class Row:
    """One mutant of a kept shard (mutation/results/*.tsv, written by keep.py), read like PIT's XML element."""
    def __init__(self, cells):
        self.cells = cells

    def get(self, name):
        return self.cells["status"] if name == "status" else None

    def findtext(self, name):
        return {"mutatedClass": self.cells["class"], "mutatedMethod": self.cells["method"], "lineNumber": self.cells["line"],
                "mutator": self.cells["mutator"], "blocks/block": self.cells["block"], "description": self.cells["description"]}[name]


def kept(tsv):
    lines = [l for l in tsv.read_text().splitlines() if l and not l.startswith("#")]
    header = lines[0].split("\t")
    return [Row(dict(zip(header, l.split("\t")))) for l in lines[1:]]


def from_xml(xml):
    try:
        return ET.parse(xml).getroot()
    except ET.ParseError:
        # PIT streams results: a shard that is still running (or was stopped) holds every finished mutant so far
        text = xml.read_text()
        end = text.rfind("</mutation>")
        if end < 0:
            print(f"{xml}: empty, skipped", file=sys.stderr)
            return []
        mutations = ET.fromstring(text[:end + len("</mutation>")] + "</mutations>")
        print(f"{xml.parent.name}: unfinished, {len(mutations)} mutants so far", file=sys.stderr)
        return mutations


def count(m):
    cls = m.findtext("mutatedClass").rsplit(".", 1)[-1]
    status = m.get("status")
    key = (cls, m.findtext("mutatedMethod"), m.findtext("lineNumber"), m.findtext("mutator").rsplit(".", 1)[-1])
    # a row may name one of several mutants on a line by PIT's block (e.g. one conjunct of a condition)
    by_block = key[:3] + (f"{key[3]}@block{m.findtext('blocks/block')}",)
    if by_block in listed:
        key = by_block
    c = per_class[cls.split("$")[0]]
    c["all"] += 1
    c[status] += 1
    if status not in KILLED and key in equivalent:
        c["equivalent"] += 1
    if status not in KILLED and key in closed:
        c["closed"] += 1
    if status not in KILLED and key not in listed:
        unlisted.append((key, status, m.findtext("description")))


# shard directories (PIT's mutations.xml) and kept shards (keep.py's .tsv)
for xml in sorted(root.glob("*/mutations.xml")):
    for m in from_xml(xml):
        count(m)
for tsv in sorted(root.glob("*.tsv")):
    for m in kept(tsv):
        count(m)

if unlisted_mode:
    for (cls, method, line, mutator), status, description in unlisted:
        print(f"| {cls} | {method} | {line} | {mutator} | ? | {status}: {description} |")
    sys.exit(1 if unlisted else 0)

def line(name, c):
    killed = sum(c[s] for s in KILLED)
    denom = c["all"] - c["equivalent"]
    pct = lambda k: f"{100.0 * k / denom if denom else 0:6.1f}%"
    print(f"{name:28} {c['all']:7} {killed:6} {c['TIMED_OUT']:4} {c['SURVIVED']:5} {c['NO_COVERAGE']:5} "
          f"{c['equivalent']:5} {pct(killed)} {c['closed']:6} {pct(killed + c['closed'])}")

total = collections.Counter()
print(f"{'class':28} {'mutants':>7} {'killed':>6} {'t/o':>4} {'surv':>5} {'nocov':>5} {'equiv':>5} {'score':>7} "
      f"{'closed':>6} {'+closed':>7}")
for cls, c in sorted(per_class.items()):
    total.update(c)
    line(cls, c)
line("TOTAL", total)
