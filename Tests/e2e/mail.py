"""A local mail server for the tests (aiosmtpd, from PyPI): keeps every message it accepts,
answers 451 (try later) while `down`, refuses recipients in `refused` with 550, and can require
STARTTLS and a login, or speak TLS from the first byte (smtps)."""

import email
import email.policy
import os
import ssl
import subprocess
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from stack import free_port


def certificate(folder):
    """A self-signed certificate for 127.0.0.1 and localhost in `folder`: (cert, key)."""
    cert, key = os.path.join(folder, "smtp-cert.pem"), os.path.join(folder, "smtp-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    os.chmod(cert, 0o644)
    return cert, key


class MailServer:
    def __init__(self, tls=None, login=None, folder=None):
        """tls: None (plain, no STARTTLS), "starttls" (offered and required) or "smtps";
        login: (user, password) required before MAIL, or None."""
        self.messages, self.deferred, self.refused_count, self.logins = [], 0, 0, 0
        self.down, self.refused, self.lock = False, set(), threading.Lock()
        self.port = free_port()
        self.cert = None
        server = self

        class Handler:
            async def handle_RCPT(self, smtp, session, envelope, address, options):
                if address in server.refused:
                    with server.lock:
                        server.refused_count += 1
                    return "550 5.1.1 no such user here"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, smtp, session, envelope):
                with server.lock:
                    if server.down:
                        server.deferred += 1
                        return "451 4.3.0 try again later"
                    server.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "data": envelope.original_content,
                                            "tls": session.ssl is not None or smtp.transport.get_extra_info("ssl_object") is not None,
                                            "login": session.authenticated})
                return "250 2.0.0 accepted"

        def authenticator(smtp, session, envelope, mechanism, auth_data):
            with server.lock:
                server.logins += 1
            ok = login is not None and (auth_data.login.decode(), auth_data.password.decode()) == login
            return AuthResult(success=ok)

        parameters = {}
        context = None
        if tls:
            self.cert, key = certificate(folder)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.cert, key)
        if tls == "starttls":
            parameters.update(tls_context=context, require_starttls=True)
        if login:
            # aiosmtpd counts only STARTTLS as TLS for AUTH; smtps is TLS from the first byte.
            parameters.update(authenticator=authenticator, auth_required=True, auth_require_tls=tls == "starttls")
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     ssl_context=context if tls == "smtps" else None, server_hostname="localhost", **parameters)
        self.controller.start()
        scheme = "smtps" if tls == "smtps" else "smtp"
        credentials = f"{login[0]}:{login[1]}@" if login else ""
        self.url = f"{scheme}://{credentials}127.0.0.1:{self.port}"

    def stop(self):
        self.controller.stop()

    def to(self, address):
        """The messages to `address`, parsed (email.message.EmailMessage), in the order received."""
        with self.lock:
            return [email.message_from_bytes(m["data"], policy=email.policy.default) for m in self.messages if address in m["to"]]

    def wait_for(self, address, count, seconds=15):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if len(self.to(address)) >= count:
                return self.to(address)
            time.sleep(0.1)
        return self.to(address)


def parts(message):
    """(text, calendar part) of a booking email."""
    text = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    calendar = next(part for part in message.walk() if part.get_content_type() == "text/calendar")
    return text.get_content(), calendar
