#!/usr/bin/env python3
"""Runs `lowbit-conform --quick` on every device, then parses its JUnit XML and JSON back with Python's
own parsers and checks they agree with each other and with the exit status. Under CI=true the report
must contain PoCL (opencl) and lavapipe (vulkan) devices."""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET


def main():
    conform, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    junit, report = os.path.join(out_dir, "conform.xml"), os.path.join(out_dir, "conform.json")
    run = subprocess.run([conform, "--quick", "--junit", junit, "--json", report], text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    print(run.stdout)
    data = json.load(open(report))
    suite = ET.parse(junit).getroot()
    cases = data["cases"]
    summary = data["summary"]
    assert summary["cases"] == len(cases), "summary count differs from the case list"
    assert int(suite.get("tests")) == len(cases), "JUnit and JSON disagree on the number of cases"
    assert int(suite.get("failures")) == summary["fail"], "JUnit and JSON disagree on failures"
    ids = [c["id"] for c in cases]
    assert len(set(ids)) == len(ids), "case ids are not unique"
    junit_names = [tc.get("name") for tc in suite.iter("testcase")]
    assert junit_names == ids, "JUnit testcases differ from the JSON cases"
    for c in cases:
        assert c["status"] in ("PASS", "FAIL", "NOT SUPPORTED", "FALLBACK"), c
        if c["status"] == "FAIL":
            assert c["message"], "a FAIL without a message: " + c["id"]
    devices = sorted({c["device"] for c in cases})
    print("devices in the report:", ", ".join(devices))
    if os.environ.get("CI") == "true":
        for prefix in ("cpu", "opencl:", "vulkan:"):
            assert any(d.startswith(prefix) for d in devices), "CI=true and no %s device in the report" % prefix
    expected_status = 1 if summary["fail"] else 0
    assert run.returncode == expected_status, "exit status %d, expected %d" % (run.returncode, expected_status)
    if summary["fail"]:
        print("conformance failures:", summary["fail"])
        return 1
    print("%d passed, 0 failed" % summary["pass"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
