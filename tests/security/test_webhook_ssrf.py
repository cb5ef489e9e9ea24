"""Issue 20 items 6 and 7: webhooks go to public addresses only, checked when the endpoint is saved
and again, after resolving, when each attempt connects; the log keeps a short status, not the
receiver's answer; each attempt ends by its deadline, however the receiver trickles."""
from __future__ import annotations

import socket
import threading
import time

import pytest
from django.core.exceptions import ValidationError

from tests.webhooks import conftest as webhook_fixtures
from webhooks import services, transport
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db
ENDPOINTS = "/api/webhooks/endpoints/"

NOT_PUBLIC = [
    "http://127.0.0.1/hook", "http://127.1.2.3:8000/", "http://localhost/hook", "http://localhost:6379/",
    "http://LOCALHOST./x", "http://crm.localhost/hook", "http://0.0.0.0/", "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/", "http://172.16.3.4/", "http://192.168.1.1/admin", "http://100.64.0.1/",
    "http://224.0.0.1/", "http://240.0.0.1/", "http://[::1]/", "http://[::]/", "http://[fe80::1]/",
    "http://[fc00::1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:169.254.169.254]/",
    "https://[ff02::1]/", "http://2130706433/", "http://0x7f.1/",
]

# The webhook tests' running receiver, as a fixture here too.
receiver = webhook_fixtures.receiver




@pytest.mark.parametrize("url", NOT_PUBLIC)
def test_the_api_refuses_endpoints_on_non_public_addresses(api, url):
    response = api("Manager").post(ENDPOINTS, {"url": url, "events": ["campaign.finished"]}, format="json")
    assert response.status_code == 400, (url, response.status_code, response.content)
    assert list(response.json()) == ["url"]
    assert "public internet addresses" in str(response.json()["url"])
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", ["http://169.254.169.254/", "http://localhost:8000/admin/"])
def test_every_door_refuses_them_the_service_and_the_admin(client, role_user, url):
    with pytest.raises(ValidationError) as refused:
        services.webhook_endpoint_create(data={"url": url, "events": ["campaign.finished"]}, created_by=None)
    assert "url" in refused.value.message_dict
    client.force_login(role_user("Manager"))
    page = client.post("/admin/webhooks/webhookendpoint/add/",
                       {"url": url, "events": '["campaign.finished"]', "active": "on"})
    assert page.status_code == 200 and b"public internet addresses" in page.content
    endpoint = services.webhook_endpoint_create(data={"url": "https://hooks.example.com/x",
                                                      "events": ["campaign.finished"]}, created_by=None)
    with pytest.raises(ValidationError):  # and a change of URL too
        services.webhook_endpoint_update(endpoint=endpoint, data={"url": url})
    assert not WebhookEndpoint.objects.exclude(pk=endpoint.pk).exists()


def test_allowed_only_when_the_setting_says_so(api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    response = api("Manager").post(ENDPOINTS, {"url": "http://10.0.0.5/hook", "events": ["campaign.finished"]},
                                   format="json")
    assert response.status_code == 201, response.content


def _deliver(endpoint, capture) -> WebhookDelivery:
    with capture(execute=True):
        delivery = services.webhook_event_emit(event_type=WebhookEvent.PING, data={}, endpoints=[endpoint])[0]
    delivery.refresh_from_db()
    return delivery


def test_an_endpoint_saved_earlier_is_refused_at_connection_time(
        settings, receiver, django_capture_on_commit_callbacks):
    target = receiver(200)
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # saved while it was allowed (or before the check existed)
    endpoint = services.webhook_endpoint_create(data={"url": target.url, "events": ["campaign.finished"]},
                                                created_by=None)
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    delivery = _deliver(endpoint, django_capture_on_commit_callbacks)
    assert target.requests == []
    assert delivery.status == "failed" and delivery.last_response == transport.BLOCKED


class _Dns:
    """The resolver's answers for one made-up name, in turn (a rebinding DNS server)."""

    def __init__(self, monkeypatch, name: str, answers: list[str]):
        self.name, self.answers, self.calls = name, list(answers), 0
        real = socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            if host != name:
                return real(host, port, *args, **kwargs)
            address = self.answers[min(self.calls, len(self.answers) - 1)]
            self.calls += 1
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_name_that_rebinds_to_a_private_address_is_refused_when_connecting(
        monkeypatch, receiver, django_capture_on_commit_callbacks):
    target = receiver(200)
    port = target.server.server_port
    dns = _Dns(monkeypatch, "hooks.rebind.test", ["93.184.216.34", "127.0.0.1"])
    endpoint = services.webhook_endpoint_create(
        data={"url": f"http://hooks.rebind.test:{port}/hook", "events": ["campaign.finished"]}, created_by=None)
    delivery = _deliver(endpoint, django_capture_on_commit_callbacks)
    assert dns.calls >= 2  # resolved again when connecting, not trusted from the registration
    assert target.requests == []
    assert delivery.last_response == transport.BLOCKED


def test_the_connection_goes_to_the_address_checked_with_the_name_in_the_host_header(
        monkeypatch, settings, receiver, django_capture_on_commit_callbacks):
    """Resolved once per attempt: a second answer (here an address nobody listens on) is never used."""
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    target = receiver(200)
    port = target.server.server_port
    endpoint = services.webhook_endpoint_create(
        data={"url": f"http://receiver.pin.test:{port}/hook", "events": ["campaign.finished"]}, created_by=None)
    dns = _Dns(monkeypatch, "receiver.pin.test", ["127.0.0.1", "10.255.255.1"])
    delivery = _deliver(endpoint, django_capture_on_commit_callbacks)
    assert dns.calls == 1
    assert delivery.status == "succeeded", delivery.last_response
    [request] = target.requests
    assert request.headers["Host"] == f"receiver.pin.test:{port}"


def test_the_log_keeps_a_status_and_never_the_receivers_answer(
        api, settings, receiver, django_capture_on_commit_callbacks):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    leak = b'{"redis": "NOAUTH", "internal": "db-password-LEAKED-TEXT"}'
    target = receiver(500, 403, body=leak)
    endpoint = services.webhook_endpoint_create(data={"url": target.url, "events": ["campaign.finished"]},
                                                created_by=None)
    delivery = _deliver(endpoint, django_capture_on_commit_callbacks)
    assert delivery.status == "failed" and delivery.last_status_code == 403
    assert delivery.last_response == "HTTP 403 (client error)"
    assert list(delivery.attempt_log.values_list("response", flat=True)) == [
        "HTTP 500 (server error)", "HTTP 403 (client error)"]
    detail = api("Manager").get(f"/api/webhooks/deliveries/{delivery.pk}/")
    assert detail.status_code == 200 and b"LEAKED" not in detail.content and b"NOAUTH" not in detail.content


class TricklingServer:
    """Answers a status line, then one header line every ``interval`` seconds for ``lines`` lines."""

    def __init__(self, interval: float = 1.0, lines: int = 20):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.interval, self.lines, self.sent = interval, lines, 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            connection.settimeout(5)
            try:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                for number in range(self.lines):
                    time.sleep(self.interval)
                    connection.sendall(f"X-Slow-{number}: 1\r\n".encode())
                    self.sent += 1
                connection.sendall(b"Content-Length: 0\r\n\r\n")
            except OSError:
                pass  # the client gave up: what the test expects

    def close(self) -> None:
        self.listener.close()


def test_each_attempt_ends_by_its_deadline_however_the_receiver_trickles(
        settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 2
    server = TricklingServer(interval=1.0, lines=20)  # each read well inside any per-read timeout
    try:
        endpoint = services.webhook_endpoint_create(
            data={"url": f"http://127.0.0.1:{server.port}/hook", "events": ["campaign.finished"]},
            created_by=None)
        with django_capture_on_commit_callbacks():
            delivery = services.webhook_event_emit(event_type=WebhookEvent.PING, data={}, endpoints=[endpoint])[0]
        started = time.monotonic()
        services.webhook_delivery_attempt(delivery_id=delivery.pk, attempt=1)
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert elapsed < 3.5, f"the attempt took {elapsed:.1f} s with a 2 s deadline"
    delivery.refresh_from_db()
    [attempt] = delivery.attempt_log.all()
    assert attempt.response == transport.TIMED_OUT and attempt.outcome == "retry"
    assert 1800 <= attempt.duration_ms < 3500
    assert server.sent <= 3
