# summary.py: the closing line of `make check`: the results of its pytest
# runs (JUnit XML files) added up, "N passed, N failed, N errors, N skipped".
#
# Usage: summary.py STATUS... -- REPORT.xml...
#
# STATUS are the exit codes of those pytest runs; the exit code is 1 if any
# of them is not 0, if a report is missing, or if any test failed.

import sys
import xml.etree.ElementTree as ET


def counts(path):
    """(tests, failures, errors, skipped) of one JUnit XML report."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    total = [0, 0, 0, 0]
    for s in suites:
        for i, key in enumerate(("tests", "failures", "errors", "skipped")):
            total[i] += int(s.get(key, "0"))
    return total


def main(argv):
    if "--" not in argv:
        sys.exit("usage: summary.py STATUS... -- REPORT.xml...")
    cut = argv.index("--")
    statuses, reports = [int(s) for s in argv[:cut]], argv[cut + 1:]
    total, missing = [0, 0, 0, 0], []
    for path in reports:
        try:
            for i, n in enumerate(counts(path)):
                total[i] += n
        except (OSError, ET.ParseError):
            missing.append(path)
    tests, failed, errors, skipped = total
    passed = tests - failed - errors - skipped
    for path in missing:
        print(f"summary.py: no report in {path}")
    print(f"{passed} passed, {failed} failed, {errors} errors, {skipped} skipped "
          f"({len(reports)} pytest runs)")
    bad = failed or errors or missing or any(statuses)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
