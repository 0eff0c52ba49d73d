#!/usr/bin/env python3
"""Keeps a PIT shard's result in the repository: one tab-separated row per mutant, small enough to commit and review
(PIT's mutations.xml repeats every test name; a scratch directory has lost reports before).

  keep.py SHARD_DIR COMMIT NOTE > kernels-cpu/mutation/results/<Class>.tsv

SHARD_DIR holds PIT's mutations.xml (a shard still running or stopped keeps its finished mutants; the header says
how many). COMMIT is the commit the shard ran on, NOTE how it ran (date, iterations, minutes). summary.py reads these
files as it reads shard directories."""
import sys, xml.etree.ElementTree as ET, pathlib, urllib.parse

shard, commit, note = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
text = (shard / "mutations.xml").read_text()
try:
    mutations = ET.fromstring(text)
    complete = "complete"
except ET.ParseError:
    end = text.rfind("</mutation>")
    mutations = ET.fromstring(text[:end + len("</mutation>")] + "</mutations>" if end >= 0 else "<mutations/>")
    complete = "unfinished (stopped): only the mutants PIT had finished"
print(f"# PIT shard {shard.name} at commit {commit}: {note}; {len(mutations)} mutants, {complete}")
print("\t".join(["status", "class", "method", "line", "mutator", "block", "tests_run", "killing_test", "description"]))
for m in mutations:
    killer = (m.findtext("killingTest") or "").replace("\t", " ")
    # PIT names a Kotest test by its unique id; the readable part is the last segment
    killer = urllib.parse.unquote(killer.rsplit("[test:", 1)[-1].rstrip("]") if "[test:" in killer else killer)
    print("\t".join([m.get("status"), m.findtext("mutatedClass").rsplit(".", 1)[-1], m.findtext("mutatedMethod"),
                     m.findtext("lineNumber"), m.findtext("mutator").rsplit(".", 1)[-1], m.findtext("blocks/block") or "",
                     m.get("numberOfTestsRun") or "", killer, m.findtext("description").replace("\t", " ")]))
