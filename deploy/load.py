#!/usr/bin/env python3
"""The load kit's measurements, run by deploy/load against the stack it started: wrk through
nginx on loopback, server CPU from /proc, and one table at the end. Python's standard library only."""

import argparse
import gzip
import http.client
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import ssl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_DIR = os.environ["RUN_DIR"]
BASE = f"https://127.0.0.1:{os.environ['HTTPS_PORT']}"
ADMIN = os.environ["ADMIN_TOKEN"]
TLS = ssl.create_default_context(cafile=os.path.join(RUN_DIR, "tls", "cert.pem"))
FIRST_SLOT = 1_924_992_000  # 2031-01-01T00:00:00Z; slots are a minute apart from here
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def api(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {ADMIN}"})
    try:
        with urllib.request.urlopen(request, context=TLS, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def slot(index):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(FIRST_SLOT + index * 60))


def seed(prefix, services, slots):
    for number in range(services):
        status, body = api("POST", "/services", {"service_id": f"{prefix}-{number}", "service_name": f"{prefix} {number}",
                                                 "available_slots": [slot(i) for i in range(slots)]})
        assert status == 201, body


def sql(query):
    return subprocess.run(["psql", os.environ["DATABASE_URL"], "-tAc", query], check=True, capture_output=True, text=True).stdout.strip()


def text(value):
    """SQL for a string field as the store keeps it: Firestore's typed value."""
    return f"jsonb_build_object('stringValue', {value})"


def deploy(*steps):
    subprocess.run(["bash", "-c", f"source '{ROOT}/deploy/lib.sh'; prepare_user; BIN_DIR=$(cd '{ROOT}' && swift build -c {os.environ.get('BUILD_CONFIGURATION', 'release')} --show-bin-path); " + "; ".join(steps)],
                   check=True, capture_output=True)


def reset_store():
    """An empty store and fresh workers (whose caches are then empty too)."""
    sql("TRUNCATE documents")
    restart_app()


def restart_app():
    """Fresh workers (with empty caches), once they answer; the start-up checks every booking's claim."""
    deploy("start_app")
    for _ in range(1200):
        try:
            if api("GET", "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the workers did not answer within 120 s")


# ---- server CPU and memory ----------------------------------------------------------------

def read_pid(path):
    with open(path) as file:
        return int(file.readline())


def tree(pid):
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending += [int(child) for child in children.read().split()]
        except (FileNotFoundError, ProcessLookupError):  # the process has just exited
            pass
    return pids


def server_pids():
    return {"nginx": tree(read_pid(os.path.join(RUN_DIR, "nginx", "nginx.pid"))),
            "fastcgi": tree(read_pid(os.path.join(RUN_DIR, "booking-server.pid"))),
            "postgres": tree(read_pid(os.path.join(RUN_DIR, "postgres", "data", "postmaster.pid")))}


def cpu_seconds():
    """CPU time of nginx, the FastCGI workers and PostgreSQL (each with its exited children's)."""
    totals = {}
    for name, pids in server_pids().items():
        totals[name] = 0
        for pid in pids:
            try:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                totals[name] += sum(int(value) for value in fields[11:15]) / CLOCK_TICKS  # utime, stime, cutime, cstime
            except (FileNotFoundError, ProcessLookupError):  # the process has just exited
                pass
    return totals


def worker_memory():
    """The largest RSS and PSS (MB) among the FastCGI worker processes (with WORKERS=1 the one
    process is the worker; otherwise the first is their supervisor)."""
    rss = pss = 0
    pids = server_pids()["fastcgi"]
    for pid in pids[1:] or pids:
        values = {line.split(":")[0]: int(line.split()[1]) for line in open(f"/proc/{pid}/smaps_rollup") if line[0].isupper()}
        rss, pss = max(rss, values["Rss"] / 1024), max(pss, values["Pss"] / 1024)
    return rss, pss


# ---- wrk ------------------------------------------------------------------------------------

def server_latency(log_offset):
    """p50 and p99 (ms) of nginx's own $request_time over the access log lines written since
    `log_offset`: from reading the request's first bytes to sending the last of the response,
    without the time the request and response spend in wrk and the kernel on the way."""
    with open(os.path.join(RUN_DIR, "nginx", "access.log"), "rb") as log:
        log.seek(log_offset)
        times = sorted(float(line.rsplit(b" ", 2)[1]) for line in log.read().splitlines())
    if not times:
        return 0.0, 0.0
    return times[len(times) // 2] * 1000, times[min(len(times) - 1, len(times) * 99 // 100)] * 1000


def wrk(path, connections, seconds, script="get.lua", env=None, threads=2, headers=()):
    """One wrk run; the worker PSS reported is the largest seen during the run (sampled 4 times a second)."""
    log_offset = os.path.getsize(os.path.join(RUN_DIR, "nginx", "access.log"))
    before = cpu_seconds()
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", os.path.join(ROOT, "deploy", "wrk", script), BASE + path]
    for header in headers:
        command[1:1] = ["-H", header]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    pss = 0
    while run.poll() is None:
        pss = max(pss, worker_memory()[1])
        time.sleep(0.25)
    output = run.stdout.read()
    assert run.returncode == 0, output
    after = cpu_seconds()
    line = next(line for line in output.splitlines() if line.startswith("WRK_RESULT "))
    result = json.loads(line[len("WRK_RESULT "):])
    assert not result["statuses"].get("other"), result  # a run of error answers measures nothing
    result["rate"] = result["requests"] / result["seconds"]
    requests = max(result["requests"], 1)
    result["cpu_parts"] = {name: 1000 * (after[name] - before[name]) / requests for name in after}
    result["cpu_ms"] = sum(result["cpu_parts"].values())
    result["pss"] = max(pss, worker_memory()[1])
    result["nginx_p50_ms"], result["nginx_p99_ms"] = server_latency(log_offset)
    return result


def publish_ceiling(what, source="/services", name="services.json"):
    """Puts the exact body of GET `source` where nginx serves it as a static file (/_ceiling/`name`)."""
    status, body = api("GET", source)
    assert status == 200, body
    path = os.path.join(RUN_DIR, "nginx", "ceiling", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as file:
        file.write(body)
    # nginx's gzip_static form of it, for clients that accept gzip (as the workers compress: level 6).
    with open(path + ".gz", "wb") as file:
        file.write(gzip.compress(body, compresslevel=6, mtime=0))
    print(f"# {what}, GET {source} body {len(body):,} bytes ({os.path.getsize(path + '.gz'):,} in gzip)", flush=True)


ROWS = []
GROUPS = ["small", "history", "book", "contend", "change", "large", "schedule", "notify"]
ROUNDS = 1  # --rounds: how many times each measurement runs


def against_nginx(result):
    """The server's CPU per request as multiples of nginx's own in the same run (total, FastCGI,
    PostgreSQL), or None when nginx used none: nginx does the same work for each request of a
    row whatever the build, so this sees through the machine's drift (±20% within minutes), and is
    what to compare between two builds run alternately."""
    nginx = result["cpu_parts"].get("nginx", 0)
    if nginx <= 0:
        return None
    return (result["cpu_ms"] / nginx, result["cpu_parts"].get("fastcgi", 0) / nginx, result["cpu_parts"].get("postgres", 0) / nginx)


def row(name, result, ceiling=None, unit="req/s"):
    ROWS.append((name, result, ceiling, unit))
    ratio = f"{result['rate'] / ceiling:6.1%}" if ceiling else "     -"
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result["statuses"].items()))
    errors = sum(result["errors"].values())
    parts = " ".join(f"{k} {v:.3f}" for k, v in result["cpu_parts"].items())
    multiples = against_nginx(result)
    parts += f"; x nginx {multiples[0]:.2f} = 1 + {multiples[1]:.2f} + {multiples[2]:.2f}" if multiples else ""
    print(f"{name:<34} {result['rate']:>9,.0f} {unit:<8} p50 {result['p50_us'] / 1000:7.2f} ms  p99 {result['p99_us'] / 1000:7.2f} ms  "
          f"(in nginx: p50 {result['nginx_p50_ms']:.0f} ms, p99 {result['nginx_p99_ms']:.0f} ms)  "
          f"ratio {ratio}  cpu {result['cpu_ms']:.3f} ms/req ({parts})  worker PSS {result['pss']:.1f} MB  "
          f"[{statuses}{', errors: %d' % errors if errors else ''}]", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--smoke", action="store_true", help="tiny data sets and 1-second runs, to check that the kit works")
    parser.add_argument("--only", choices=GROUPS, action="append", help="run only this group (repeatable); default: all")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run each measurement this many times (a ceiling and its app run alternating); "
                             "the table then gives the median and the range")
    args = parser.parse_args()
    groups = args.only or GROUPS
    seconds = 1 if args.smoke else args.seconds
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    global ROUNDS
    ROUNDS = args.rounds

    print(f"# load kit: {seconds} s per run, {ROUNDS} round(s), wrk through nginx at {BASE} (loopback), "
          f"{os.cpu_count()} cores", flush=True)
    if "small" in groups:
        small(seconds)
    if "history" in groups:
        history(seconds, 2_000 if args.smoke else 100_000)
    if "book" in groups:
        book(seconds, 20 if args.smoke else 200)
    if "contend" in groups:
        contend(seconds)
    if "change" in groups:
        change(seconds, 10 if args.smoke else 200)
    if "large" in groups:
        large(seconds, (20, 50) if args.smoke else (200, 500))
    if "schedule" in groups:
        schedule(seconds, 20 if args.smoke else 200)
    if "notify" in groups:
        notify(seconds, 20 if args.smoke else 200)
    table()


def small(seconds):
    reset_store()
    seed("small", 10, 20)
    publish_ceiling("small catalog: 10 services x 20 slots")
    against_ceiling("GET /services small c32", "nginx static ceiling (small) c32", 32, seconds)
    against_ceiling("GET /services small c128", "nginx static ceiling (small) c128", 128, seconds)
    # One service (20 slots): never published, so the workers answer every read from their caches.
    for _ in range(ROUNDS):
        row("GET /services/{id} small c128", wrk("/services/small-3", 128, seconds))


def history(seconds, bookings):
    """The small catalog's rows again, on a store that also holds `bookings` bookings of future
    slots (every slot of services of 500 slots each, stored as the booking path stores them): a
    read must cost the same as on an empty store, whatever the bookings ever made."""
    reset_store()
    seed("small", 10, 20)
    services = bookings // 500
    seed("booked", services, 500)
    slot_text = """to_char(timestamp '2031-01-01' + i * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
    sql(f"""INSERT INTO documents (collection, id, fields, create_time, update_time)
            SELECT 'slot_claims', 'booked-' || s || '@' || {slot_text},
                   jsonb_build_object('service_id', {text("'booked-' || s")}, 'slot', {text(slot_text)},
                                      'booking_id', {text("'history-' || s || '-' || i")}),
                   now() - interval '1 hour', now() - interval '1 hour'
            FROM generate_series(0, {services - 1}) s, generate_series(0, 499) i""")
    sql(f"""INSERT INTO documents (collection, id, fields, create_time, update_time)
            SELECT 'bookings', 'history-' || s || '-' || i,
                   jsonb_build_object('booking_id', {text("'history-' || s || '-' || i")}, 'service_id', {text("'booked-' || s")},
                                      'slot', {text(slot_text)}, 'user_name', {text("'history'")},
                                      'timestamp', jsonb_build_object('timestampValue', '2030-01-01T00:00:00Z')),
                   now() - interval '1 hour', now() - interval '1 hour'
            FROM generate_series(0, {services - 1}) s, generate_series(0, 499) i""")
    sql("VACUUM ANALYZE documents")
    restart_app()  # nothing cached from before the bookings
    claims = int(sql("SELECT count(*) FROM documents WHERE collection = 'slot_claims'"))
    publish_ceiling(f"small catalog with {claims:,} booked future slots in {services} more services")
    against_ceiling("GET /services history c32", "nginx static ceiling (history) c32", 32, seconds)
    against_ceiling("GET /services history c128", "nginx static ceiling (history) c128", 128, seconds)
    listing_times(f"{bookings:,} bookings", ["/bookings?limit=100", "/bookings?limit=1000", "/bookings?service_id=booked-7&limit=100"])


def listing_times(what, paths):
    """How long the admin's listing takes (one client; it reads the matching bookings for each page)."""
    for path in paths:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            status, body = api("GET", path)
            assert status == 200, body
            times.append((time.perf_counter() - started) * 1000)
        print(f"# GET {path} ({what}): {sorted(times)[2]:.0f} ms (median of 5; {min(times):.0f}-{max(times):.0f})", flush=True)


def against_ceiling(name, ceiling_name, connections, seconds, headers=(), path="/services", ceiling_file="services.json"):
    """GET `path` and the ceiling (nginx sending the same body as a static file), alternating,
    each round's ratio taken against the ceiling measured just before it."""
    for _ in range(ROUNDS):
        ceiling = wrk(f"/_ceiling/{ceiling_file}", connections, seconds, headers=headers)
        row(ceiling_name, ceiling)
        row(name, wrk(path, connections, seconds, headers=headers), ceiling["rate"])


def book(seconds, booking_services):
    env = {"LOAD_SERVICES": str(booking_services), "LOAD_SLOTS": "500", "LOAD_PREFIX": "book",
           "LOAD_FIRST_SLOT": str(FIRST_SLOT), "LOAD_THREADS": "2"}
    # Each round on a new table: after a DELETE and VACUUM, inserts reuse its pages and run faster.
    for _ in range(ROUNDS):
        reset_store()
        seed("book", booking_services, 500)
        booked = wrk("/book", 32, seconds, "book.lua", env)
        row("POST /book distinct slots c32", booked, unit="book/s")
        claims = int(sql("SELECT count(*) FROM documents WHERE collection = 'slot_claims'"))
        created = booked["statuses"].get("201", 0)
        # wrk stops counting at the deadline; up to one request per connection may still complete.
        assert created <= claims <= created + 32 and set(booked["statuses"]) == {"201"}, (claims, booked["statuses"])
    status, body = api("POST", "/services", {"service_id": "rebuild-probe", "service_name": "rebuild probe",
                                             "available_slots": [slot(i) for i in range(16)]})
    assert status == 201, body
    what = f"{booking_services * 500:,} slots, {claims:,} claims"
    rebuild_after_booking(range(8), f"{what}, right after the bookings run")
    # As autovacuum leaves the table: the primary key answers the claims' ids without the rows.
    sql("VACUUM ANALYZE documents")
    rebuild_after_booking(range(8, 16), f"{what}, after VACUUM")


def rebuild_after_booking(slots, what):
    """How long GET /services takes right after a booking of each of `slots` of the probe service,
    when it rebuilds the catalog (every service, every claim). One kept connection."""
    connection = http.client.HTTPSConnection("127.0.0.1", int(os.environ["HTTPS_PORT"]), context=TLS, timeout=120)
    times = []
    for index in slots:
        connection.request("POST", "/book", json.dumps({"service_id": "rebuild-probe", "slot": slot(index), "user_name": "probe"}),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 201 and response.read()
        started = time.perf_counter()
        connection.request("GET", "/services")
        response = connection.getresponse()
        assert response.status == 200 and response.read()
        times.append((time.perf_counter() - started) * 1000)
    connection.close()
    print(f"# catalog rebuild after a booking ({what}): GET /services took "
          f"{sorted(times)[len(times) // 2]:.0f} ms (median of {len(times)}; {min(times):.0f}-{max(times):.0f})", flush=True)


def contend(seconds):
    for _ in range(ROUNDS):
        reset_store()
        seed("contend", 1, 10)
        contended = wrk("/book", 64, seconds, "contend.lua", {"LOAD_SERVICE": "contend-0", "LOAD_SLOTS": "10", "LOAD_FIRST_SLOT": str(FIRST_SLOT)})
        row("POST /book 64 conns on 10 slots", contended)
        created, conflicts = contended["statuses"].get("201", 0), contended["statuses"].get("409", 0)
        claims = int(sql("SELECT count(*) FROM documents WHERE collection = 'slot_claims'"))
        bookings = int(sql("SELECT count(*) FROM documents WHERE collection = 'bookings'"))
        assert created + conflicts == contended["requests"], contended
        assert created == claims == bookings == 10, (created, claims, bookings)
        print(f"# contention: {created} x 201 + {conflicts} x 409 = {contended['requests']} requests; "
              f"the store holds exactly {claims} claims and {bookings} bookings for the 10 slots", flush=True)


def store_bookings(prefix, services, per_service):
    """Stores `per_service` confirmed bookings in each of `services` services of 2 x per_service
    slots, as the booking path stores them: booking k of service s at slot 2k, with its claim
    (written in the same commit, so with the same update time) and the hash of its manage token
    `load-{s}-{k}`; the odd slots stay free. Inserted by SQL: booking them through the API
    would take longer than the runs."""
    seed(prefix, services, 2 * per_service)
    slot_text = """to_char(timestamp '2031-01-01' + 2 * k * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
    booking = f"'{prefix}-' || s || '-' || k"
    written = "timestamptz '2026-01-01 00:00:00+00'"
    sql(f"""INSERT INTO documents (collection, id, fields, create_time, update_time)
            SELECT 'slot_claims', '{prefix}-' || s || '@' || {slot_text},
                   jsonb_build_object('service_id', {text(f"'{prefix}-' || s")}, 'slot', {text(slot_text)}, 'booking_id', {text(booking)}),
                   {written}, {written}
            FROM generate_series(0, {services - 1}) s, generate_series(0, {per_service - 1}) k""")
    sql(f"""INSERT INTO documents (collection, id, fields, create_time, update_time)
            SELECT 'bookings', {booking},
                   jsonb_build_object('booking_id', {text(booking)}, 'service_id', {text(f"'{prefix}-' || s")},
                                      'slot', {text(slot_text)}, 'user_name', {text("'load'")}, 'status', {text("'confirmed'")},
                                      'manage_token_sha256', {text("encode(sha256(convert_to('load-' || s || '-' || k, 'UTF8')), 'hex')")},
                                      'timestamp', jsonb_build_object('timestampValue', '2026-01-01T00:00:00Z')),
                   {written}, {written}
            FROM generate_series(0, {services - 1}) s, generate_series(0, {per_service - 1}) k""")
    sql("VACUUM ANALYZE documents")
    restart_app()


def change(seconds, services):
    """DELETE /bookings/{id} and POST /bookings/{id}/reschedule of distinct bookings with their
    manage tokens, each run on a fresh store of 250 bookings per service; afterwards the store
    holds one claim per confirmed booking, none for a cancelled one."""
    per_service = 250
    for action, name in (("cancel", "DELETE /bookings/{id} c32"), ("reschedule", "POST /bookings/{id}/reschedule c32")):
        for _ in range(ROUNDS):
            reset_store()
            store_bookings("change", services, per_service)
            env = {"LOAD_ACTION": action, "LOAD_SERVICES": str(services), "LOAD_BOOKINGS": str(per_service), "LOAD_PREFIX": "change",
                   "LOAD_FIRST_SLOT": str(FIRST_SLOT), "LOAD_THREADS": "2"}
            changed = wrk("/", 32, seconds, "change.lua", env)
            row(name, changed, unit="chg/s")
            assert set(changed["statuses"]) == {"200"}, changed["statuses"]
            confirmed = int(sql("SELECT count(*) FROM documents WHERE collection = 'bookings' AND fields->'status'->>'stringValue' = 'confirmed'"))
            claims = int(sql("SELECT count(*) FROM documents WHERE collection = 'slot_claims'"))
            odd = int(sql("SELECT count(*) FROM documents WHERE collection = 'slot_claims' AND substr(id, length(id) - 4, 1)::int % 2 = 1"))
            assert claims == confirmed, (claims, confirmed)
            if action == "cancel":
                assert confirmed <= services * per_service - min(changed["requests"], services * per_service) + 32, (confirmed, changed["requests"])
            else:
                assert odd >= min(changed["requests"], services * per_service) - 32, (odd, changed["requests"])
            print(f"# {action}: {changed['requests']:,} answers (all 200); the store holds {confirmed:,} confirmed bookings and "
                  f"{claims:,} claims ({odd:,} of them moved to odd slots)", flush=True)


def notify(seconds, booking_services):
    """POST /book with the webhook outbox on (each booking also writes its event, and a thread
    of each worker process sends them to a local receiver meanwhile), its ratio against the same
    bookings with it off, measured just before; then how long the receiver took to get them all."""
    received = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # kept connections, as receivers behind a web server keep them

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append(1)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *arguments):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"LOAD_SERVICES": str(booking_services), "LOAD_SLOTS": "500", "LOAD_PREFIX": "book",
           "LOAD_FIRST_SLOT": str(FIRST_SLOT), "LOAD_THREADS": "2"}
    try:
        for _ in range(ROUNDS):
            off = None
            for on in (False, True):
                if on:
                    os.environ.update(WEBHOOK_URL=f"http://127.0.0.1:{server.server_address[1]}/hooks", WEBHOOK_SECRET="load-webhook-secret-0123")
                reset_store()
                seed("book", booking_services, 500)
                received.clear()
                booked = wrk("/book", 32, seconds, "book.lua", env)
                assert set(booked["statuses"]) == {"201"}, booked["statuses"]
                row(f"POST /book webhooks {'on' if on else 'off'} c32", booked, off["rate"] if on else None, unit="book/s")
                if on:
                    events = int(sql("SELECT count(*) FROM documents WHERE collection LIKE 'booking_events%'"))
                    started, during = time.time(), len(received)
                    while int(sql("SELECT count(*) FROM documents WHERE collection = 'booking_events'")) and time.time() - started < 120:
                        time.sleep(0.5)
                    print(f"# webhooks: {events:,} events for {booked['statuses'].get('201', 0):,} bookings; {during:,} received during the "
                          f"run, the rest within {time.time() - started:.1f} s after it ({len(received):,} in all)", flush=True)
                    assert len(received) >= events, (len(received), events)
                off = booked
    finally:
        for name in ("WEBHOOK_URL", "WEBHOOK_SECRET"):
            os.environ.pop(name, None)
        server.shutdown()
        restart_app()


def large(seconds, size):
    reset_store()
    seed("large", *size)
    publish_ceiling(f"large catalog: {size[0]} services x {size[1]} slots")
    against_ceiling("GET /services large c32", "nginx static ceiling (large) c32", 32, seconds)
    # As browsers ask for it: the workers send the body they compressed once per build.
    against_ceiling("GET /services large, gzip c32", "nginx static ceiling (large, gzip) c32", 32, seconds,
                    headers=["Accept-Encoding: gzip"])


def schedule(seconds, services):
    """A catalog of services with weekly hours instead of listed slots: Monday to Friday 09:00-17:00
    in half hours, over 8 weeks, in four zones (640 slots a service, generated by each worker once
    a day): the catalog's rows against the static ceiling, as for the large catalog of listed slots,
    and one service read through the workers against nginx sending the same body as a file."""
    reset_store()
    zones = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"]
    weekdays = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    for number in range(services):
        status, body = api("POST", "/services", {
            "service_id": f"schedule-{number}", "service_name": f"Schedule {number}", "time_zone": zones[number % 4],
            "duration_minutes": 30, "schedule": {"weekly": weekdays, "slot_minutes": 30, "horizon_days": 56}})
        assert status == 201, body
    publish_ceiling(f"schedule catalog: {services} services x 8 weeks of weekday hours")
    against_ceiling("GET /services schedule c32", "nginx static ceiling (schedule) c32", 32, seconds)
    against_ceiling("GET /services schedule, gzip c32", "nginx static ceiling (schedule, gzip) c32", 32, seconds,
                    headers=["Accept-Encoding: gzip"])
    publish_ceiling("one schedule service", source="/services/schedule-1", name="service.json")
    against_ceiling("GET /services/{id} schedule c32", "nginx static ceiling (one schedule service) c32", 32, seconds,
                    path="/services/schedule-1", ceiling_file="service.json")


def table():
    """One line per measurement: its value, or with several rounds the median and the range."""
    def spread(values, spell):
        if len(values) == 1:
            return spell(values[0])
        return f"{spell(statistics.median(values))} ({spell(min(values))}–{spell(max(values))})"

    def multiples_cell(multiples):
        if any(m is None for m in multiples):
            return "-"
        parts = " + ".join(f"{statistics.median(values):.2f}" for values in list(zip(*multiples))[1:])
        return f"{spread([m[0] for m in multiples], lambda v: f'{v:.2f}')} (1 + {parts})"

    runs = {}
    for name, result, ceiling_rate, unit in ROWS:
        runs.setdefault(name, []).append((result, ceiling_rate, unit))
    print()
    print("| run | rate | p50 ms | p99 ms | p50 / p99 ms in nginx | of ceiling | server CPU ms/req (nginx + FastCGI + PostgreSQL) "
          "| server CPU as multiples of nginx's (1 + FastCGI + PostgreSQL) | worker PSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, measured in runs.items():
        results = [result for result, _, _ in measured]
        unit = measured[0][2]
        ratios = [result["rate"] / ceiling_rate for result, ceiling_rate, _ in measured if ceiling_rate]
        parts = " + ".join(f"{statistics.median(values):.3f}" for values in zip(*(r["cpu_parts"].values() for r in results)))
        print(f"| {name} | {spread([r['rate'] for r in results], lambda v: f'{v:,.0f}')} {unit} | "
              f"{spread([r['p50_us'] / 1000 for r in results], lambda v: f'{v:.2f}')} | "
              f"{spread([r['p99_us'] / 1000 for r in results], lambda v: f'{v:.2f}')} | "
              f"{spread([r['nginx_p50_ms'] for r in results], lambda v: f'{v:.0f}')} / "
              f"{spread([r['nginx_p99_ms'] for r in results], lambda v: f'{v:.0f}')} | "
              f"{spread(ratios, lambda v: f'{v:.1%}') if ratios else '-'} | "
              f"{spread([r['cpu_ms'] for r in results], lambda v: f'{v:.3f}')} ({parts}) | "
              f"{multiples_cell([against_nginx(r) for r in results])} | "
              f"{max(r['pss'] for r in results):.1f} |")


if __name__ == "__main__":
    sys.exit(main())
