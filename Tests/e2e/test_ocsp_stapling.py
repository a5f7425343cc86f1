"""OCSP stapling: a second nginx, rendered by deploy/lib.sh as deploy/up renders it, with a
certificate from a local CA that names a local OCSP responder (OpenSSL's own, `openssl ocsp`);
its handshakes must carry the responder's signed "good". The stack's own nginx, whose
self-signed certificate names no responder, must have no stapling lines (nginx would warn)."""

import os
import subprocess
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stack import RUN_DIR, free_port, lib_sh


class Responder:
    """An OCSP responder's HTTP side on loopback: answers every request (POST, or GET with the
    request in the path, RFC 6960 appendix A) with the signed response it was given."""

    def __init__(self, response, port):
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self):
                owner.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(response)))
                self.end_headers()
                self.wfile.write(response)

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.answer()

            do_GET = answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def openssl(*args, folder):
    done = subprocess.run(["openssl", *args], cwd=folder, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def stapled():
    """(the folder of the CA's files, the HTTPS port of an nginx serving a certificate whose
    OCSP responder runs on loopback)."""
    folder = os.path.join(RUN_DIR, "ocsp")
    os.makedirs(folder, exist_ok=True)
    os.chmod(folder, 0o755)  # nginx runs as another user when the tests run as root
    responder_port = free_port()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=Booking test CA", "-keyout", "ca.key", "-out", "ca.pem", folder=folder)
    with open(os.path.join(folder, "leaf.ext"), "w") as extensions:
        extensions.write(f"authorityInfoAccess = OCSP;URI:http://127.0.0.1:{responder_port}\n"
                         "subjectAltName = DNS:localhost,IP:127.0.0.1\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
            "-keyout", "leaf.key", "-out", "leaf.csr", folder=folder)
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
            "-extfile", "leaf.ext", "-out", "leaf.pem", folder=folder)
    os.chmod(os.path.join(folder, "leaf.key"), 0o644)  # a throwaway key, for nginx's user
    # The responder's database: the leaf, valid (OpenSSL's index.txt format).
    serial = openssl("x509", "-noout", "-serial", "-in", "leaf.pem", folder=folder).strip().split("=")[1]
    ends = datetime.strptime(openssl("x509", "-noout", "-enddate", "-in", "leaf.pem", folder=folder).strip().split("=")[1],
                             "%b %d %H:%M:%S %Y GMT")
    subject = openssl("x509", "-noout", "-subject", "-nameopt", "compat", "-in", "leaf.pem", folder=folder).strip().split("=", 1)[1]
    with open(os.path.join(folder, "index.txt"), "w") as index:
        index.write(f"V\t{ends.strftime('%y%m%d%H%M%SZ')}\t\t{serial}\tunknown\t{subject}\n")
    # OpenSSL's responder signs the answer (offline: `openssl ocsp -port` of OpenSSL 3.0 listens
    # on every address, and tests listen on loopback only); a loopback HTTP server gives it out.
    openssl("ocsp", "-issuer", "ca.pem", "-cert", "leaf.pem", "-no_nonce", "-reqout", "request.der", folder=folder)
    openssl("ocsp", "-index", "index.txt", "-rsigner", "ca.pem", "-rkey", "ca.key", "-CA", "ca.pem",
            "-reqin", "request.der", "-respout", "response.der", folder=folder)
    responder = Responder(open(os.path.join(folder, "response.der"), "rb").read(), responder_port)
    environment = {**os.environ, "RUN_DIR": os.path.join(RUN_DIR, "ocsp-stapled"), "HTTPS_PORT": str(free_port()),
                   "HTTP_PORT": str(free_port()), "TLS_CERT": os.path.join(folder, "leaf.pem"),
                   "TLS_KEY": os.path.join(folder, "leaf.key"), "TLS_TRUSTED_CERT": os.path.join(folder, "ca.pem"),
                   "FASTCGI_SERVERS": f"server unix:{RUN_DIR}/socket/booking.sock;",
                   "PUBLISH_DIR": os.path.join(RUN_DIR, "published"), "LARGE_BODY_DIR": os.path.join(RUN_DIR, "large-bodies")}
    try:
        lib_sh("make_run_dir; start_nginx; wait_for_health", environment)
        try:
            yield folder, environment["HTTPS_PORT"], environment["RUN_DIR"], responder
        finally:
            lib_sh("stop_nginx", environment)
    finally:
        responder.stop()


def handshake_status(folder, port):
    """What `openssl s_client -status` says of the OCSP response in a handshake with the nginx."""
    done = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", "-status",
                           "-CAfile", os.path.join(folder, "ca.pem")], input="", capture_output=True, text=True, timeout=30)
    return done.stdout


def test_the_handshake_carries_the_certificates_ocsp_status(stapled):
    folder, port, run_dir, responder = stapled
    # nginx asks the responder after a first handshake and staples from then on.
    for _ in range(50):
        said = handshake_status(folder, port)
        if "OCSP Response Status: successful" in said:
            break
        assert "OCSP response: no response sent" in said, said
        time.sleep(0.2)
    print("stapled:", " / ".join(line.strip() for line in said.splitlines()
                                 if "OCSP Response Status" in line or "Cert Status" in line or "Verify return code" in line))
    assert "OCSP Response Status: successful" in said, said
    assert "Cert Status: good" in said, said
    assert responder.requests >= 1
    assert "Verify return code: 0 (ok)" in said, said
    config = open(os.path.join(run_dir, "nginx", "booking-site.conf")).read()
    assert f"ssl_trusted_certificate {folder}/ca.pem;" in config and "ssl_stapling_verify on;" in config
    assert "ssl_stapling" not in open(os.path.join(run_dir, "nginx", "error.log")).read()


def test_a_certificate_without_a_responder_gets_no_stapling_lines():
    config = open(os.path.join(RUN_DIR, "nginx", "booking-site.conf")).read()
    assert "ssl_stapling" not in config and "resolver " not in config and "@RESOLVER@" not in config
    assert "ssl_stapling" not in open(os.path.join(RUN_DIR, "nginx", "error.log")).read()
