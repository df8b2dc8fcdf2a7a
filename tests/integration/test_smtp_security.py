"""Email to a real mail provider's server (README "Configuration", SMTP_SECURITY): STARTTLS or TLS
from the first byte, the server's certificate verified, a login only over TLS; a server that cannot
be reached as configured is not the message's fault (retried without counting an attempt). Against
aiosmtpd with TLS and authentication required, in this process."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import smtplib
import ssl
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.config import ConfigError, Settings
from app.notifications.delivery import UNREACHABLE, EmailChannel
from app.unit_of_work import unit_of_work
from devstack.mail import MailServer, MailSink

LOGINS = {"seatline": "a mailbox password"}
# The test server allows AUTH without STARTTLS when it speaks TLS from the first byte, and aiosmtpd
# warns about that setting without knowing the connection is TLS already.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (and its key), as a private CA would issue one."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.seatline.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("smtp-tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


@pytest.fixture
def server(request, certificate) -> Iterator[MailServer]:
    running = MailServer(MailSink(), security=request.param, certificate=certificate, logins=LOGINS)
    yield running
    running.stop()


def settings_for(app, port: int, **smtp: str) -> Settings:
    return dataclasses.replace(app.extensions["seatline.settings"], smtp_host="127.0.0.1", smtp_port=port, **smtp)


def logging_in(app, server: MailServer, password: str = LOGINS["seatline"], ca_file: str = "") -> Settings:
    """The settings of a worker that reaches ``server`` as it asks (STARTTLS or TLS) and logs in."""
    return settings_for(
        app,
        server.port,
        smtp_security=server.security,
        smtp_username="seatline",
        smtp_password=password,
        smtp_ca_file=ca_file,
    )


def send(app, settings: Settings, to: str = "fan@example.com") -> None:
    with app.app_context(), unit_of_work() as uow:
        EmailChannel(settings).send(uow, 41, to, "Your tickets", "Row B, seats 1 and 2.")


@pytest.mark.parametrize("server", ["starttls", "tls"], indirect=True)
def test_a_message_goes_over_tls_after_a_login(app, server, certificate):
    send(app, logging_in(app, server, ca_file=certificate[0]))
    [message] = server.sink.to("fan@example.com")
    assert message["Subject"] == "Your tickets" and message["Message-ID"] == "<notification-41@seatline.example>"
    assert server.refused_logins == 0


@pytest.mark.parametrize("server", ["starttls"], indirect=True)
def test_a_refused_login_sends_nothing_and_is_not_the_messages_fault(app, server, certificate):
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        send(app, logging_in(app, server, password="not the password", ca_file=certificate[0]))
    assert isinstance(refused.value, UNREACHABLE)
    assert server.refused_logins >= 1 and server.sink.messages == []


@pytest.mark.parametrize("server", ["starttls", "tls"], indirect=True)
def test_a_certificate_that_is_not_trusted_ends_the_connection_before_anything_is_sent(app, server):
    # No SMTP_CA_FILE: the system's CAs do not know this server's certificate.
    with pytest.raises(ssl.SSLCertVerificationError) as untrusted:
        send(app, logging_in(app, server))
    assert isinstance(untrusted.value, UNREACHABLE)
    assert server.sink.messages == [] and server.refused_logins == 0


def test_starttls_is_never_skipped_when_the_server_does_not_offer_it(app, smtp_sink, certificate):
    # The development sink speaks plain SMTP only: asked for STARTTLS, nothing is sent in clear.
    sink, port = smtp_sink
    sink.clear()
    settings = settings_for(app, port, smtp_security="starttls", smtp_ca_file=certificate[0])
    with pytest.raises(smtplib.SMTPNotSupportedError) as refused:
        send(app, settings, to="clear@example.com")
    assert isinstance(refused.value, UNREACHABLE)
    assert sink.to("clear@example.com") == []


def test_the_settings_refuse_an_unknown_security_and_a_password_in_clear(app):
    base = app.extensions["seatline.settings"]
    with pytest.raises(ConfigError, match="SMTP_SECURITY"):
        dataclasses.replace(base, smtp_security="ssl").validate()
    with pytest.raises(ConfigError, match="SMTP_USERNAME"):
        dataclasses.replace(base, smtp_security="none", smtp_username="seatline").validate()
    dataclasses.replace(base, smtp_security="tls", smtp_username="seatline").validate()
