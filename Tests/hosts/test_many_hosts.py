"""Several hosts, run: network namespaces joined by a bridge, with addresses inside the namespaces
only. One nginx host, two application hosts (FastCGI over TCP), one PostgreSQL host.

    web  10.77.0.1  nginx, and the clients (on its loopback)
    app1 10.77.0.2  booking-server, FCGI_ADDRESS=10.77.0.2:9000
    app2 10.77.0.3  booking-server, FCGI_ADDRESS=10.77.0.3:9000
    db   10.77.0.4  PostgreSQL
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

ROOT = os.environ.get("ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "Tests", "e2e"))

PREFIX = f"bk{os.getpid()}"
ADDRESSES = {"web": "10.77.0.1", "app1": "10.77.0.2", "app2": "10.77.0.3", "db": "10.77.0.4"}
USER = os.environ.get("SERVICE_USER", "booking")
ADMIN_TOKEN = "hosts-admin-token-0123456789abcdef"
PYTHON = os.path.join(ROOT, ".run", "venv", "bin", "python")
BOUND_SECONDS = 1  # READ_CACHE_SECONDS: how long another host's read cache may show a slot as free


def run(*command, **kwargs):
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120, **kwargs)


def namespace(host):
    return f"{PREFIX}-{host}"


def in_host(host, *command):
    """`command` inside `host`'s network namespace, as the service user."""
    return ["ip", "netns", "exec", namespace(host), "setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", *command]


def binary(name):
    bin_dir = run("swift", "build", "--show-bin-path", cwd=ROOT).stdout.strip()
    return os.path.join(bin_dir, name)


class Network:
    """The hosts, their servers, and how to reach them."""

    def __init__(self, folder):
        self.folder = folder
        self.apps = {}
        for host in [*ADDRESSES, "switch"]:
            run("ip", "netns", "add", namespace(host))
            run("ip", "-n", namespace(host), "link", "set", "lo", "up")
        run("ip", "-n", namespace("switch"), "link", "add", "br0", "type", "bridge")
        run("ip", "-n", namespace("switch"), "link", "set", "br0", "up")
        for host, address in ADDRESSES.items():
            run("ip", "-n", namespace(host), "link", "add", "eth0", "type", "veth", "peer", "name", host, "netns", namespace("switch"))
            run("ip", "-n", namespace("switch"), "link", "set", host, "master", "br0", "up")
            run("ip", "-n", namespace(host), "addr", "add", f"{address}/24", "dev", "eth0")
            run("ip", "-n", namespace(host), "link", "set", "eth0", "up")

    def start_postgres(self):
        data = os.path.join(self.folder, "db", "data")
        run(*in_host("db", self.pg("initdb"), "-D", data, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"))
        with open(os.path.join(data, "pg_hba.conf"), "a") as hba:
            hba.write("host all all 10.77.0.0/24 trust\n")  # the private network's hosts
        options = f"-c listen_addresses={ADDRESSES['db']} -c unix_socket_directories={self.folder}/db -c max_connections=100"
        run(*in_host("db", self.pg("pg_ctl"), "start", "-D", data, "-w", "-t", "60", "-l", f"{self.folder}/db/postgres.log", "-o", options))
        run(*in_host("db", self.pg("createdb"), "-h", f"{self.folder}/db", "booking"))
        # The tests read the store through the socket file, which no network namespace hides.
        os.environ["DATABASE_URL"] = f"postgresql:///booking?host={self.folder}/db&user={USER}"

    @staticmethod
    def pg(tool):
        return sorted(subprocess.run(["bash", "-c", "ls -d /usr/lib/postgresql/*/bin"], capture_output=True, text=True).stdout.split(),
                      key=lambda path: int(path.split("/")[-2]))[-1] + "/" + tool

    def start_app(self, host):
        log = open(os.path.join(self.folder, f"{host}.log"), "ab")
        environment = {
            "PATH": os.environ["PATH"], "DATABASE_URL": f"postgresql://{USER}@{ADDRESSES['db']}/booking",
            "FCGI_ADDRESS": f"{ADDRESSES[host]}:9000", "FCGI_WEB_SERVER_ADDRS": ADDRESSES["web"], "WORKERS": "2", "THREADS": "4",
            "ADMIN_TOKEN": ADMIN_TOKEN, "METRICS_ADDRESS": "127.0.0.1:9464", "READ_CACHE_SECONDS": str(BOUND_SECONDS),
        }
        process = subprocess.Popen(in_host(host, "env", "-i", *[f"{k}={v}" for k, v in environment.items()], binary("booking-server")),
                                   stdout=log, stderr=subprocess.STDOUT)
        self.apps[host] = process
        deadline = time.monotonic() + 60
        while self.fastcgi(host, "GET", "/healthz")[0] != 200:
            assert process.poll() is None and time.monotonic() < deadline, open(log.name).read()[-2000:]
            time.sleep(0.2)

    def stop_app(self, host):
        process = self.apps.pop(host)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        return process.returncode

    def start_nginx(self):
        web = os.path.join(self.folder, "web")
        # A host that failed is tried again after 3 s (nginx's default is 10 s): sooner back in use
        # after a restart, so that the other's failure soon after does not leave none.
        servers = " ".join(f"server {ADDRESSES[host]}:9000 max_fails=1 fail_timeout=3s;" for host in ("app1", "app2"))
        script = (f"source '{ROOT}/deploy/lib.sh'; prepare_user; make_run_dir; render_nginx_config; "
                  f"as_web_user nginx -p \"$NGINX_DIR\" -c \"$NGINX_DIR/nginx.conf\" -t -q")
        environment = {**os.environ, "RUN_DIR": web, "HTTPS_PORT": "8443", "HTTP_PORT": "8080", "LISTEN_ADDRESS": "127.0.0.1",
                       "FASTCGI_SERVERS": servers, "RATE_LIMIT": "0", "ADMIN_RATE_LIMIT": "0",
                       # One user for every server of this test (each runs in a host of its own).
                       "SERVICE_USER": USER, "WEB_USER": USER, "DB_USER": USER}
        run("bash", "-c", script, env=environment)
        run(*in_host("web", "nginx", "-p", f"{web}/nginx", "-c", f"{web}/nginx/nginx.conf", "-e", f"{web}/nginx/error.log"))
        self.base, self.ca = "https://127.0.0.1:8443", f"{web}/tls/cert.pem"

    def client(self, command, **arguments):
        """Runs a command of client.py inside the web host; its JSON result."""
        output = subprocess.run(["ip", "netns", "exec", namespace("web"), PYTHON, os.path.join(ROOT, "Tests", "hosts", "client.py"),
                                 self.base, self.ca, command, json.dumps(arguments)], capture_output=True, text=True, timeout=300)
        assert output.returncode == 0, output.stderr
        return json.loads(output.stdout)

    def client_process(self, command, **arguments):
        return subprocess.Popen(["ip", "netns", "exec", namespace("web"), PYTHON, os.path.join(ROOT, "Tests", "hosts", "client.py"),
                                 self.base, self.ca, command, json.dumps(arguments)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def https(self, method, path, body=None):
        """A request through nginx, from inside the web host: (status, parsed body)."""
        command = ["curl", "-s", "--cacert", self.ca, "-X", method, "-H", f"Authorization: Bearer {ADMIN_TOKEN}",
                   "-w", "\n%{http_code}", self.base + path]
        if body is not None:
            command += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
        output = run("ip", "netns", "exec", namespace("web"), *command).stdout
        text, _, status = output.rpartition("\n")
        return int(status), json.loads(text) if text else None

    def fastcgi(self, host, method, path):
        """A request straight to `host`'s FastCGI listener from the web host (the one peer it takes)."""
        env = {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "REQUEST_URI": path, "CONTENT_LENGTH": "0", "PATH": os.environ["PATH"]}
        output = subprocess.run(["ip", "netns", "exec", namespace("web"), "cgi-fcgi", "-bind", "-connect", f"{ADDRESSES[host]}:9000"],
                                env=env, capture_output=True, timeout=20)
        head, _, payload = output.stdout.partition(b"\r\n\r\n")
        if output.returncode != 0 or not head.startswith(b"Status: "):
            return None, None
        return int(head.split(b"\r\n")[0].split()[1]), json.loads(payload) if payload else None

    def metrics(self, host):
        output = run("ip", "netns", "exec", namespace(host), "curl", "-s", "http://127.0.0.1:9464/metrics").stdout
        return {line.rpartition(" ")[0]: float(line.rpartition(" ")[2]) for line in output.splitlines() if line and line[0] != "#"}

    def close(self):
        for host in list(self.apps):
            self.stop_app(host)
        web = os.path.join(self.folder, "web", "nginx", "nginx.pid")
        if os.path.exists(web):
            os.kill(int(open(web).read()), signal.SIGQUIT)
        data = os.path.join(self.folder, "db", "data")
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            subprocess.run(in_host("db", self.pg("pg_ctl"), "stop", "-D", data, "-m", "fast", "-w"), capture_output=True, timeout=60)
        for host in [*ADDRESSES, "switch"]:
            subprocess.run(["ip", "netns", "del", namespace(host)], capture_output=True)


@pytest.fixture(scope="module")
def network():
    assert os.geteuid() == 0, "the many-hosts test makes network namespaces: run it as root"
    parent = os.path.join(os.environ.get("RUN_DIR", os.path.join(ROOT, ".run", "test")), "hosts")
    os.makedirs(parent, exist_ok=True)
    folder = tempfile.mkdtemp(dir=parent)
    for sub in ("db", "web"):
        os.makedirs(os.path.join(folder, sub))
    run("chown", "-R", f"{USER}:{USER}", folder)
    os.chmod(os.path.join(folder, "db"), 0o700)
    hosts = Network(folder)
    try:
        hosts.start_postgres()
        hosts.start_app("app1")
        hosts.start_app("app2")
        hosts.start_nginx()
        yield hosts
    finally:
        hosts.close()


def new_service(network, slots):
    status, body = network.https("POST", "/services", {"service_id": f"hosts-{uuid.uuid4().hex[:10]}", "service_name": "Across hosts",
                                                       "available_slots": slots})
    assert status == 201, body
    return body["service_id"]


def future_slots(count):
    from stack import future_slots as slots
    return slots(count, start_days=200 + int(time.time()) % 50, step_minutes=5)


def test_the_application_hosts_refuse_every_peer_but_the_web_server(network):
    refused = subprocess.run(["ip", "netns", "exec", namespace("db"), "cgi-fcgi", "-bind", "-connect", f"{ADDRESSES['app1']}:9000"],
                             env={"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/healthz", "REQUEST_URI": "/healthz", "PATH": os.environ["PATH"]},
                             capture_output=True, timeout=20)
    assert b"Status: 200" not in refused.stdout
    assert network.fastcgi("app1", "GET", "/healthz")[0] == 200


def test_200_clients_racing_across_both_hosts_book_one_slot_once(network):
    from stack import check_store
    slot = future_slots(1)[0]
    service_id = new_service(network, [slot])
    before = {host: network.metrics(host).get('booking_http_requests_total{route="book",status="409"}', 0) for host in ("app1", "app2")}
    result = network.client("race", service_id=service_id, slot=slot, clients=200)
    print(f"race across 2 application hosts: {result['statuses']}")
    assert result["statuses"] == {"201": 1, "409": 199}, result["statuses"]
    check_store(service_id)
    time.sleep(1.2)  # the workers write their counts each second
    refused = {host: network.metrics(host).get('booking_http_requests_total{route="book",status="409"}', 0) - before[host]
               for host in ("app1", "app2")}
    print(f"409s answered by each host: {refused}")
    assert all(count > 0 for count in refused.values()), f"nginx sent the race to both hosts: {refused}"


def test_a_booking_on_one_host_shows_on_the_other_within_the_bound(network):
    slot = future_slots(2)[1]
    service_id = new_service(network, [slot])
    for host in ("app1", "app2"):  # both hosts cache the service's availability
        assert slot in network.fastcgi(host, "GET", f"/services/{service_id}")[1]["available_slots"]
    status, body = network.https("POST", "/book", {"service_id": service_id, "slot": slot, "user_name": "Ann"})
    assert status == 201, body
    booked_at = time.monotonic()
    seen = {}
    while len(seen) < 2 and time.monotonic() - booked_at < 5:
        for host in ("app1", "app2"):
            if host not in seen and slot not in network.fastcgi(host, "GET", f"/services/{service_id}")[1]["available_slots"]:
                seen[host] = time.monotonic() - booked_at
        time.sleep(0.02)
    print(f"the booked slot left each host's listing after (s): {seen}")
    assert set(seen) == {"app1", "app2"} and max(seen.values()) <= BOUND_SECONDS + 0.5, seen


def bookings_while(network, host, stop):
    """About 4 s of bookings through nginx, 8 clients each booking its own slots with an
    idempotency key and retrying a failed attempt; after 2 s, `stop(host)`. What the clients
    were answered, and which bookings the store holds."""
    from stack import check_store, count_documents
    slots = future_slots(1000)[2:]
    service_id = new_service(network, slots)
    stream = network.client_process("stream", service_id=service_id, slots=slots, threads=8, pause=0.02)
    time.sleep(2)
    made_there = network.metrics(host).get('booking_bookings_total{outcome="created"}', 0)
    stop(host)
    assert stream.poll() is None and made_there > 0, f"{host} stopped mid-run, having booked some"
    output, errors = stream.communicate(timeout=300)
    assert stream.returncode == 0, errors
    result = json.loads(output)
    stored = count_documents("bookings", service_id)
    print(f"{len(slots)} bookings, {host} stopped after 2 s ({made_there:.0f} made there): answers {result['answers']}, "
          f"booked {len(result['booked'])}, stored {stored}, lost {len(slots) - len(result['booked'])}, made twice {stored - len(slots)}")
    assert len(result["booked"]) == len(slots), "every booking was made, on one host or the other"
    assert stored == len(slots) and len(set(result["booked"].values())) == len(slots), "each once"
    check_store(service_id)
    network.start_app(host)  # back, for the tests after this one
    return result["answers"]


def test_stopping_one_application_host_mid_run_loses_nothing(network):
    """app1 told to stop (SIGTERM): it finishes what it read and closes; nginx sends the rest to app2."""
    def stop(host):
        assert network.stop_app(host) == 0, f"{host} stopped cleanly"
    answers = bookings_while(network, "app1", stop)
    assert answers == {"201": answers["201"]}, f"every request answered 201 at the first attempt: {answers}"


def test_a_host_that_dies_mid_run_loses_no_booking_and_makes_none_twice(network):
    """Every process of app2 killed at once (as when its machine fails): a request it had read is
    sent again to app1 by nginx, and its idempotency key answers it as the first attempt did."""
    def kill(host):
        process = network.apps.pop(host)
        with open(f"/proc/{process.pid}/task/{process.pid}/children") as children:
            workers = [int(pid) for pid in children.read().split()]
        for pid in [process.pid, *workers]:
            os.kill(pid, signal.SIGKILL)
        process.wait(timeout=30)
    bookings_while(network, "app2", kill)
