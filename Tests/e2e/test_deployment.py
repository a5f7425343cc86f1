"""How the workers are deployed: unix socket permissions, fd 0 from spawn-fcgi, systemd socket activation,
TCP, the unit files, configuration errors."""

import contextlib
import os
import pwd
import re
import signal
import stat
import subprocess
import tempfile
import threading
import time

import pytest

from stack import cluster_sql, database_role, BACKEND, ROOT, metrics, wait_until

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="deployment is tested once, on PostgreSQL")

RUN_DIR = os.environ.get("RUN_DIR", "")


def binary():
    bin_dir = subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    return os.path.join(bin_dir, "booking-server")


def fastcgi_request(socket_path, method, path, body=b"", content_type=""):
    """One request over FastCGI with libfcgi's own client, cgi-fcgi, to a unix socket's path or to
    host:port; returns (status, body)."""
    env = {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "REQUEST_URI": path, "CONTENT_LENGTH": str(len(body)),
           "CONTENT_TYPE": content_type, "PATH": os.environ["PATH"]}
    output = subprocess.run(["cgi-fcgi", "-bind", "-connect", socket_path], input=body, env=env,
                            capture_output=True, timeout=20, check=True).stdout
    head, _, payload = output.partition(b"\r\n\r\n")
    return int(head.split(b"\r\n")[0].split()[1]), payload


@contextlib.contextmanager
def server_process(command, environment, ready):
    """Runs `command` (a booking-server, however started) with `environment` added to this one's,
    until `ready()` is true; stops it with SIGTERM afterwards and checks it stopped cleanly. Yields
    the process; its output is in `process.output` once stopped."""
    env = {**os.environ, "WORKERS": "2", "THREADS": "2", "ADMIN_TOKEN": "x" * 32, "METRICS_ADDRESS": "off", **environment}
    for name in ("FCGI_SOCKET", "FCGI_ADDRESS"):
        if name not in environment:
            env.pop(name, None)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: ready() or process.poll() is not None, seconds=20) and process.poll() is None
        yield process
    finally:
        process.terminate()
        process.output = process.communicate(timeout=20)[0].decode()
    assert process.returncode == 0, process.output
    assert "all worker processes stopped" in process.output


def answers(target):
    """Whether a FastCGI server answers GET /healthz at `target` (a socket path or host:port)."""
    try:
        return fastcgi_request(target, "GET", "/healthz")[0] == 200
    except (subprocess.CalledProcessError, IndexError, ValueError):
        return False


def test_the_socket_lets_only_the_workers_and_nginx_connect():
    socket_file = os.stat(os.path.join(RUN_DIR, "socket", "booking.sock"))
    folder = os.stat(os.path.join(RUN_DIR, "socket"))
    assert stat.S_IMODE(socket_file.st_mode) == 0o660
    assert stat.S_IMODE(folder.st_mode) == 0o2750 if os.geteuid() == 0 else True
    nginx = int(open(os.path.join(RUN_DIR, "nginx", "nginx.pid")).read())
    assert socket_file.st_gid == os.stat(f"/proc/{nginx}").st_gid, "the socket has nginx's group"


def test_nginx_the_workers_and_postgresql_run_as_users_of_their_own():
    """Started by root: a flaw in one server reaches neither the others' files nor their keys."""
    if os.geteuid() != 0:
        pytest.skip("as another user, every server runs as that user")
    nginx = int(open(os.path.join(RUN_DIR, "nginx", "nginx.pid")).read())
    postgres = int(open(os.path.join(RUN_DIR, "postgres", "data", "postmaster.pid")).readline())
    supervisor = int(open(os.path.join(RUN_DIR, "booking-server.pid")).read())
    owners = {name: pwd.getpwuid(os.stat(f"/proc/{pid}").st_uid).pw_name for name, pid in
              (("nginx", nginx), ("postgres", postgres), ("workers", supervisor))}
    print(f"users: {owners}")
    assert len(set(owners.values())) == 3 and "root" not in owners.values(), owners
    # nginx cannot reach the database's socket, nor read the workers' log or PostgreSQL's data.
    as_nginx = ["setpriv", f"--reuid={owners['nginx']}", f"--regid={owners['nginx']}", "--init-groups"]
    for path in (os.path.join(RUN_DIR, "postgres", ".s.PGSQL.5432"), os.path.join(RUN_DIR, "log", "booking-server.log"),
                 os.path.join(RUN_DIR, "postgres", "data", "PG_VERSION")):
        assert subprocess.run([*as_nginx, "test", "-r", path]).returncode != 0, path
    # The workers cannot read nginx's key.
    as_workers = ["setpriv", f"--reuid={owners['workers']}", f"--regid={owners['workers']}", "--init-groups"]
    assert subprocess.run([*as_workers, "test", "-r", os.path.join(RUN_DIR, "tls", "key.pem")]).returncode != 0


def test_the_logs_are_readable_by_the_service_user_and_its_group_only():
    """They hold booking ids and client addresses."""
    logs = [os.path.join(RUN_DIR, *path) for path in (("log", "booking-server.log"), ("log", "postgres.log"), ("nginx", "access.log"),
                                                      ("nginx", "error.log"))]
    modes = {os.path.basename(log): oct(stat.S_IMODE(os.stat(log).st_mode)) for log in logs}
    print(f"log file modes: {modes}")
    assert set(modes.values()) == {"0o640"}, modes


def test_workers_serve_a_socket_inherited_on_fd_0_as_spawn_fcgi_passes_it():
    with tempfile.TemporaryDirectory() as directory:
        socket_path = os.path.join(directory, "fcgi.sock")
        environment = {"METRICS_ADDRESS": "127.0.0.1:19465", "DRAIN_SECONDS": "3"}
        with server_process(["spawn-fcgi", "-n", "-s", socket_path, "--", binary()], environment,
                            lambda: os.path.exists(socket_path)) as server:
            statuses = [fastcgi_request(socket_path, "GET", "/healthz")[0] for _ in range(10)]
            assert statuses == [200] * 10
            status, body = fastcgi_request(socket_path, "POST", "/book", b"{}", "application/json")
            assert status == 400 and b"invalid_request" in body
            # Each request went to one of the two worker processes; the scrape sums them.
            served = 'booking_http_requests_total{route="healthz",status="200"}'
            assert wait_until(lambda: metrics("127.0.0.1:19465").get(served) == 10, seconds=5), metrics("127.0.0.1:19465")
            assert fastcgi_request(socket_path, "GET", "/readyz") == (200, b'{"status":"ready"}')

            # Told to stop, it serves on for DRAIN_SECONDS with readiness 503, so a load balancer
            # takes it out before it closes its socket.
            server.terminate()
            time.sleep(0.5)
            assert fastcgi_request(socket_path, "GET", "/readyz") == (503, b'{"status":"draining"}')
            assert fastcgi_request(socket_path, "GET", "/healthz")[0] == 200
        assert "draining" in server.output


def test_systemd_socket_activation_passes_the_socket_as_listen_fds():
    """systemd-socket-activate does what a .socket unit does: it listens, and on the first
    connection starts the service with the socket on fd 3, LISTEN_FDS=1 and LISTEN_PID."""
    with tempfile.TemporaryDirectory() as directory:
        socket_path = os.path.join(directory, "activated.sock")
        passed = ["-E", "WORKERS", "-E", "THREADS", "-E", "ADMIN_TOKEN", "-E", "METRICS_ADDRESS", "-E", "DATABASE_URL",
                  "-E", "STORE_BACKEND"]
        with server_process(["systemd-socket-activate", "-l", socket_path, *passed, binary()], {"STORE_BACKEND": "postgres"},
                            lambda: os.path.exists(socket_path)) as server:
            assert [fastcgi_request(socket_path, "GET", "/healthz")[0] for _ in range(10)] == [200] * 10
            status, body = fastcgi_request(socket_path, "POST", "/book", b"{}", "application/json")
            assert status == 400 and b"invalid_request" in body
        assert "Listening on" in server.output and "supervising worker processes" in server.output


def test_tcp_for_nginx_on_other_hosts_takes_only_the_web_servers_addresses():
    address = "127.0.0.1:19602"
    with server_process([binary()], {"FCGI_ADDRESS": address, "FCGI_WEB_SERVER_ADDRS": "10.9.9.9, 127.0.0.1"},
                        lambda: answers(address)):
        assert [fastcgi_request(address, "GET", "/healthz")[0] for _ in range(10)] == [200] * 10
    with server_process([binary()], {"FCGI_ADDRESS": address, "FCGI_WEB_SERVER_ADDRS": "10.9.9.9"},
                        lambda: subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/{address.replace(':', '/')}"]).returncode == 0):
        assert not answers(address), "a peer not in FCGI_WEB_SERVER_ADDRS is refused"


def test_the_systemd_units_pass_systemd_analyze_verify():
    """The units as shipped (the socket as LISTEN_FDS), and with the service's comment applied
    (the socket on fd 0: StandardInput=socket)."""
    for variant in ("", "StandardInput=socket\nStandardOutput=journal\n"):
        with tempfile.TemporaryDirectory() as directory:
            for name in ("booking-server.service", "booking-server.socket"):
                text = open(os.path.join(ROOT, "deploy", "systemd", name)).read()
                # The unit names the installed binary; verify checks that it exists and runs.
                text = text.replace("/usr/local/bin/booking-server", binary()).replace("KillSignal=", variant + "KillSignal=")
                with open(os.path.join(directory, name), "w") as unit:
                    unit.write(text)
            result = subprocess.run(["systemd-analyze", "verify", "--man=no", "booking-server.socket", "booking-server.service"],
                                    cwd=directory, capture_output=True, text=True, timeout=60)
            assert result.returncode == 0 and result.stdout == "" and result.stderr == "", (variant, result.stdout + result.stderr)


def test_a_bad_setting_stops_the_server_with_a_clear_message():
    result = subprocess.run([binary()], env={**os.environ, "WORKERS": "many"}, capture_output=True, text=True, timeout=20)
    assert result.returncode == 2
    assert "WORKERS must be a whole number" in result.stderr
    for value in ["0", "soon", "nan", "86400"]:
        result = subprocess.run([binary()], env={**os.environ, "READ_CACHE_SECONDS": value}, capture_output=True, text=True, timeout=20)
        assert result.returncode == 2 and "READ_CACHE_SECONDS must be a number of seconds" in result.stderr, (value, result.stderr)
    result = subprocess.run([binary()], env={**os.environ, "LARGE_BODY_DIR": "/proc/large-bodies"}, capture_output=True, text=True, timeout=20)
    assert result.returncode == 2 and "cannot create LARGE_BODY_DIR /proc/large-bodies" in result.stderr, result.stderr
    for name, value in [("LOG_LEVEL", "loud"), ("DATABASE_URL", "garbage url"), ("DATABASE_URL", "postgresql://[::1"),
                        ("METRICS_ADDRESS", "9464"), ("METRICS_ADDRESS", "localhost:http"), ("DRAIN_SECONDS", "-1"),
                        ("FCGI_ADDRESS", "9000"), ("FCGI_ADDRESS", "[::1]:9000"), ("FCGI_WEB_SERVER_ADDRS", "nginx-host"),
                        ("ADMIN_TOKEN", "secret"), ("ADMIN_TOKEN", "x" * 31)]:
        result = subprocess.run([binary()], env={**os.environ, "STORE_BACKEND": "postgres", name: value}, capture_output=True, text=True,
                                timeout=20)
        assert result.returncode == 2 and result.stderr.startswith(f"booking-server: {name} "), (name, value, result.stderr)


def test_help_names_every_setting_and_version_says_which_build_this_is():
    result = subprocess.run([binary(), "--help"], capture_output=True, text=True, timeout=20, env={"PATH": os.environ["PATH"]})
    assert result.returncode == 0 and result.stdout.startswith("booking-server ")
    source = "".join(open(os.path.join(ROOT, "Sources", *path)).read() for path in [
        ("BookingApplication", "ServerConfiguration.swift"), ("StoreConfiguration", "StoreConfiguration.swift"),
        ("StoreConfiguration", "DataSettings.swift")])
    read = set(re.findall(r'environment(?:\["|, ")([A-Z_]+)"', source)) - {"GCLOUD_PROJECT", "GCE_METADATA_HOST", "LISTEN_FDS", "LISTEN_PID"}  # (systemd sets these)
    listed = set(re.findall(r"^  ([A-Z_]+)$", result.stdout, re.MULTILINE))
    assert read and read <= listed, f"settings the server reads but --help does not name: {read - listed}"
    assert "default: info" in result.stdout
    version = subprocess.run([binary(), "--version"], capture_output=True, text=True, timeout=20)
    assert version.returncode == 0 and re.match(r"^booking-server \d+\.\d+\.\d+$", version.stdout.strip())
    ctl = subprocess.run([os.path.join(os.path.dirname(binary()), "bookingctl"), "--version"], capture_output=True, text=True, timeout=20)
    assert ctl.returncode == 0 and ctl.stdout.strip() == version.stdout.strip().replace("booking-server", "bookingctl")
    wrong = subprocess.run([binary(), "--port", "9000"], capture_output=True, text=True, timeout=20)
    assert wrong.returncode == 2 and "unknown argument --port" in wrong.stderr


def test_the_production_guide_explains_every_placeholder_and_setting():
    guide = open(os.path.join(ROOT, "docs", "DEPLOYMENT.md")).read()
    template = open(os.path.join(ROOT, "nginx", "booking-site.conf")).read()
    placeholders = set(re.findall(r"@[A-Z_]+@", template)) - {"@NAME@"}
    unexplained = {name for name in placeholders if f"| `{name}`" not in guide and f"`{name}`, `" not in guide and f", `{name}` |" not in guide}
    assert placeholders and not unexplained, f"placeholders of booking-site.conf the guide's table lacks: {unexplained}"
    help_text = subprocess.run([binary(), "--help"], capture_output=True, text=True, timeout=20).stdout
    settings = set(re.findall(r"^  ([A-Z_]+)$", help_text, re.MULTILINE))
    readme = open(os.path.join(ROOT, "README.md")).read()
    undocumented = {name for name in settings if f"`{name}`" not in readme + guide}
    assert not undocumented, f"settings neither README nor docs/DEPLOYMENT.md names: {undocumented}"
    example = open(os.path.join(ROOT, "deploy", "booking.env.example")).read()
    named = set(re.findall(r"^#?([A-Z_]+)=", example, re.MULTILINE))
    assert named and named <= settings, f"booking.env.example names settings the server does not read: {named - settings}"


def test_a_dump_restored_into_a_new_database_holds_the_same_data():
    """The guide's backup and restore, on the test database: pg_dump, pg_restore into an empty
    database, bookingctl check there, and the same documents as the original."""
    url = os.environ["DATABASE_URL"]
    restored = url.replace("/booking?", "/booking_restored?")
    with tempfile.TemporaryDirectory() as directory:
        os.chmod(directory, 0o777)
        dump = os.path.join(directory, "booking.dump")
        as_user = ["setpriv", f"--reuid={os.environ.get('SERVICE_USER', 'booking')}", f"--regid={os.environ.get('SERVICE_USER', 'booking')}",
                   "--init-groups"] if os.geteuid() == 0 else []
        subprocess.run([*as_user, "pg_dump", "--format=custom", f"--file={dump}", url], check=True, capture_output=True, timeout=120)
        cluster_sql("DROP DATABASE IF EXISTS booking_restored")
        cluster_sql(f"CREATE DATABASE booking_restored OWNER {database_role()}")
        subprocess.run([*as_user, "pg_restore", "--no-owner", f"--dbname={restored}", dump], check=True, capture_output=True, timeout=120)
    digest = "SELECT count(*), md5(string_agg(collection || '/' || id || fields::text, ',' ORDER BY collection, id)) FROM documents"
    original = subprocess.run(["psql", url, "-tAc", digest], check=True, capture_output=True, text=True).stdout
    copy = subprocess.run(["psql", restored, "-tAc", digest], check=True, capture_output=True, text=True).stdout
    assert copy == original and int(original.split("|")[0]) > 0
    def check(database):
        result = subprocess.run([os.path.join(os.path.dirname(binary()), "bookingctl"), "check"], capture_output=True, text=True,
                                timeout=120, env={**os.environ, "DATABASE_URL": database, "STORE_BACKEND": "postgres"})
        return result.returncode, result.stdout.replace("booking_restored", "booking")
    try:
        # The same findings (the earlier tests leave the original application's double bookings).
        assert check(restored) == check(url)
    finally:
        cluster_sql("DROP DATABASE booking_restored")


def test_bookingctl_says_in_one_sentence_why_the_store_cannot_be_reached():
    ctl = os.path.join(os.path.dirname(binary()), "bookingctl")
    for command in (["check"], ["bookings", "list"], ["services", "list"], ["prune"]):
        result = subprocess.run([ctl, *command], capture_output=True, text=True, timeout=60,
                                env={**os.environ, "STORE_BACKEND": "postgres", "DATABASE_URL": "postgresql:///booking?host=/nonexistent"})
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, (command, result.stderr)
        assert lines[0].startswith("Error: the store cannot be reached: PostgreSQL: ") and "/nonexistent" in lines[0], lines[0]


def test_a_supervisor_whose_workers_keep_dying_still_stops_at_once():
    """Workers killed as fast as they start (as when they crash at start-up): the supervisor slows
    its restarts, and a SIGTERM still stops it within a second or so while they go on dying."""
    with tempfile.TemporaryDirectory() as directory:
        socket_path = os.path.join(directory, "fcgi.sock")
        with server_process([binary()], {"FCGI_SOCKET": socket_path}, lambda: answers(socket_path)) as server:
            children = f"/proc/{server.pid}/task/{server.pid}/children"

            def kill_workers():
                while server.poll() is None:
                    try:
                        for pid in open(children).read().split():
                            os.kill(int(pid), signal.SIGKILL)
                    except (FileNotFoundError, ProcessLookupError):
                        pass
                    time.sleep(0.05)

            killer = threading.Thread(target=kill_workers, daemon=True)
            killer.start()
            time.sleep(3)  # more restarts than the supervisor makes without pausing
            server.terminate()
            stopping = time.monotonic()
            server.wait(timeout=20)
            assert time.monotonic() - stopping < 3, "stopped while its workers kept dying"
        assert "worker process exited; starting another" in server.output


def test_the_nginx_site_filled_in_as_the_guide_says_is_accepted_by_nginx():
    """The guide's table of placeholders, its third column filled in, under the system nginx's
    http {} as Debian's sites-enabled is; every absolute path moved under a scratch root (the test
    cannot write /etc or /srv), the files copied there as the guide says."""
    guide = open(os.path.join(ROOT, "docs", "DEPLOYMENT.md")).read()
    values = {}
    for placeholders, _, example in re.findall(r"^\| (`@[A-Z_]+@`(?:, `@[A-Z_]+@`)*) \| (.*?) \| (.*?) \|$", guide, re.MULTILINE):
        names = re.findall(r"@[A-Z_]+@", placeholders)
        given = re.findall(r"`([^`]+)`", example)
        if len(names) == 2 and len(given) == 2 and names[0] != "@TLS_CERT@":
            values.update(zip(names, given))
        elif names[0] == "@TLS_CERT@":
            directory = os.path.dirname(given[0])
            values["@TLS_CERT@"], values["@TLS_KEY@"] = given[0], os.path.join(directory, given[1])
        elif given:
            values[names[0]] = given[0]
    template = open(os.path.join(ROOT, "nginx", "booking-site.conf")).read()
    assert set(re.findall(r"@[A-Z_]+@", template)) - {"@NAME@", "@EXTRA_LOCATIONS@"} <= set(values), values
    with tempfile.TemporaryDirectory() as scratch:
        def moved(path):
            kept = ("/etc/nginx/fastcgi_params", "/etc/ssl/certs/")  # the system's own files, read only
            return scratch + path if path.startswith("/") and not path.startswith(kept) else path

        site = template.replace("# @EXTRA_LOCATIONS@", "#")
        for name, value in values.items():
            if name == "@FASTCGI_SERVERS@":
                value = value.replace("unix:/", f"unix:{scratch}/")
            site = site.replace(name, moved(value) if value.startswith("/") else value)
        conf_dir = moved(values["@CONF_DIR@"])
        os.makedirs(conf_dir)
        for name in ("security-headers.conf", "error-pages.conf"):
            subprocess.run(["cp", os.path.join(ROOT, "nginx", name), conf_dir], check=True)
        for placeholder, source in (("@WWW_ROOT@", "www"), ("@ERRORS_DIR@", "errors")):
            subprocess.run(["mkdir", "-p", os.path.dirname(moved(values[placeholder]))], check=True)
            subprocess.run(["cp", "-r", os.path.join(ROOT, "nginx", source), moved(values[placeholder])], check=True)
        os.makedirs(os.path.dirname(moved(values["@TLS_CERT@"])))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=booking.example.com",
                        "-keyout", moved(values["@TLS_KEY@"]), "-out", moved(values["@TLS_CERT@"])], check=True, capture_output=True)
        with open(os.path.join(scratch, "booking"), "w") as enabled:
            enabled.write(site)
        with open(os.path.join(scratch, "nginx.conf"), "w") as main:
            main.write(f"pid {scratch}/nginx.pid;\nerror_log {scratch}/error.log;\nevents {{}}\n"
                       f"http {{\n include /etc/nginx/mime.types;\n access_log off;\n include {scratch}/booking;\n}}\n")
        checked = subprocess.run(["nginx", "-t", "-q", "-p", scratch, "-c", os.path.join(scratch, "nginx.conf"), "-e", f"{scratch}/error.log"],
                                 capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stderr


def test_the_logs_of_the_run_time_folder_stay_bounded_while_their_writers_append():
    with tempfile.TemporaryDirectory(dir=RUN_DIR) as run_dir:
        for folder in ("log", "nginx"):
            os.makedirs(os.path.join(run_dir, folder))
        log = os.path.join(run_dir, "log", "booking-server.log")
        open(log, "w").close()
        os.chmod(log, 0o640)
        # A writer that keeps the file open and appends, as the servers do.
        writer = subprocess.Popen(["python3", "-c", "import sys, time\nwith open(sys.argv[1], 'a') as log:\n"
                                   "    for n in range(400):\n        log.write(f'line {n:04d}\\n'); log.flush(); time.sleep(0.005)",
                                   log])
        time.sleep(0.5)
        script = f"source '{ROOT}/deploy/lib.sh'; rotate_logs"
        subprocess.run(["bash", "-c", script], check=True, env={**os.environ, "RUN_DIR": run_dir, "LOG_MAX_BYTES": "500"})
        writer.wait(timeout=30)
        older, current = open(log + ".1").read(), open(log).read()
        assert len(older) > 500 and older.startswith("line 0000\n")
        assert stat.S_IMODE(os.stat(log + ".1").st_mode) == 0o640
        assert "\0" not in current and current.endswith("line 0399\n"), "appending went on at the start of the emptied file"
        assert len(current) < 400 * 10
        lines = [line for line in (older + current).splitlines()]
        assert all(re.fullmatch(r"line \d{4}", line) for line in lines), "no line broken"
        print(f"rotated: {len(older)} bytes kept in .1, {len(current)} written since; lines lost between copy and emptying: {400 - len(lines)}")


def test_the_guides_logrotate_snippet_is_one_logrotate_takes():
    guide = open(os.path.join(ROOT, "docs", "DEPLOYMENT.md")).read()
    snippet = re.search(r"```\n(/home/me/booking/booking-server\.log \{.*?\})\n```", guide, re.DOTALL).group(1)
    with tempfile.TemporaryDirectory() as scratch:
        log = os.path.join(scratch, "booking-server.log")
        with open(log, "w") as file:
            file.write("x\n")
        config = os.path.join(scratch, "booking")
        with open(config, "w") as file:
            file.write(snippet.replace("/home/me/booking/booking-server.log", log) + "\n")
        checked = subprocess.run(["logrotate", "--debug", "--force", "--state", os.path.join(scratch, "state"), config],
                                 capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0 and "error" not in checked.stderr.lower(), checked.stderr
        assert "copying " in checked.stderr and "truncating " in checked.stderr, checked.stderr
