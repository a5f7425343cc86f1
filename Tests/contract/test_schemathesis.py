"""The OpenAPI description (nginx/www/openapi.yaml) against the live server, through nginx: a
bounded schemathesis run (its examples, boundary cases, random cases and sequences of calls).
Every answer must be a status the description lists for the operation, with its content type,
headers and body schema; nothing may be a 5xx; what the description calls invalid must be
refused; operations that need a token must refuse a wrong one; 405s must list what is allowed.

Run after the end-to-end tests on PostgreSQL: it creates many services, which other tests'
listings need not see. Deterministic (a fixed seed), so a failure is reproduced by running again.
"""

import os
import subprocess
import sys

ROOT = os.environ.get("ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BASE = os.environ.get("BOOKING_URL", "https://127.0.0.1:18443")
CA = os.environ.get("BOOKING_CA", "false")
TOKEN = os.environ.get("ADMIN_TOKEN", "test-admin-token-0123456789abcdef")

# positive_data_acceptance is left out: whether a valid booking is accepted depends on what is
# stored (the service must exist and offer the slot), which random data cannot know.
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
          "response_schema_conformance", "negative_data_rejection", "unsupported_method", "allow_header_conformance",
          "missing_required_header", "ignored_auth"]


def test_the_server_answers_as_its_openapi_description_says():
    command = [os.path.join(os.path.dirname(sys.executable), "st"), "run", os.path.join(ROOT, "nginx", "www", "openapi.yaml"),
               "--url", BASE, "--tls-verify", CA, "--header", f"Authorization: Bearer {TOKEN}", "--checks", ",".join(CHECKS),
               "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", "100", "--seed", "2", "--workers", "1",  # 2: a CPython 3.11 bug in ast under threads
               "--no-color"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900, env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"})
    summary = [line.strip() for line in run.stdout.splitlines() if line.strip().endswith("skipped") and "generated" in line]
    print("schemathesis: " + "; ".join(summary))
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
