"""Import benchmark: parse and validate a 500-question Moodle XML file, beside the bare XML
parse of the same bytes, measured in the same run.

The file is the shipped bank's questions that Moodle grades (no variants, no code), exported
by app.bank.formats.moodle_xml and repeated with new ids up to --count questions. The import
is the whole path an upload takes: defusedxml's safe parse, the mapping to our fields, and
validation through the one schema (app.bank.formats.moodle_xml.parse). The baseline parses
the same bytes with the standard library's xml.etree.ElementTree.fromstring and nothing else.
Each is timed --repeat times after one warm-up; the medians and their ratio are printed.

    python bench/import_moodle.py [--count 500] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.bank.formats import moodle_xml  # noqa: E402
from app.bank.formats.mapping import skip_reason  # noqa: E402
from app.bank.loader import load_bank  # noqa: E402
from app.bank.schema import CodeQuestion  # noqa: E402


def moodle_file(count: int) -> bytes:
    bank = load_bank(ROOT / "questions")
    gradable = [
        q.question
        for topic in bank.topics.values()
        for q in topic.questions
        if skip_reason(q.question) is None and not isinstance(q.question, CodeQuestion)
    ]
    quiz = etree.Element("quiz")
    for number in range(count):
        question = gradable[number % len(gradable)]
        renamed = question.model_copy(update={"id": f"{question.id}-{number}"})
        quiz.append(moodle_xml.question_element(renamed))
    data: bytes = etree.tostring(quiz, xml_declaration=True, encoding="UTF-8")
    return data


def median_seconds(work: Callable[[], object], repeat: int) -> float:
    work()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    data = moodle_file(args.count)
    parsed = moodle_xml.parse(data)
    if parsed.problems or len(parsed.questions) != args.count:
        sys.exit(f"the generated file did not import cleanly: {parsed.problems[:3]}")
    imported = median_seconds(lambda: moodle_xml.parse(data), args.repeat)
    baseline = median_seconds(lambda: ElementTree.fromstring(data), args.repeat)
    print(f"{args.count} questions, {len(data) / 1e6:.1f} MB of Moodle XML")
    print(f"  import (safe parse + mapping + schema): {imported * 1000:8.1f} ms")
    print(f"  baseline (ElementTree.fromstring):      {baseline * 1000:8.1f} ms")
    print(f"  ratio: {imported / baseline:.1f}x; {imported / args.count * 1e6:.0f} us per question")


if __name__ == "__main__":
    main()
