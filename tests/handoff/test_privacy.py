"""No email, phone or card number reaches the gateway's logs."""
from __future__ import annotations

import asyncio
import logging

from handoff.logs import RedactingFilter, redact

from .helpers import CLOSED_RASA, Client

SECRETS = ["ada.obi@example.com", "+234 803 123 4567", "08031234567", "4111 1111 1111 1111"]


def test_redact() -> None:
    text = "mail ada.obi@example.com, call +234 803 123 4567 or 08031234567, card 4111 1111 1111 1111"
    assert redact(text) == "mail [email], call [phone] or [phone], card [card]"
    # what is not personal stays readable
    assert redact("order KH-204518 on 2024-05-01, 3 items, 180 s") == "order KH-204518 on 2024-05-01, 3 items, 180 s"


def test_filter_redacts_arguments_and_tracebacks() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "shopper said %s", ("ada.obi@example.com",), None)
    try:
        raise ValueError("card 4111 1111 1111 1111")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "shopper said [email]"
    assert "4111" not in record.exc_text and "[card]" in record.exc_text


async def test_gateway_logs_hold_no_personal_data(gateway_process, tmp_path) -> None:
    gw = gateway_process("--db-url", f"sqlite:///{tmp_path / 'gw.db'}", "--rasa-url", CLOSED_RASA,
                         "--log-level", "DEBUG")
    s = await Client.connect(gw.ws_url + "/ws/shopper")
    await s.send(type="hello", v=1)
    await s.expect("welcome")
    for secret in SECRETS:
        await s.send(type="message", text=f"my details: {secret}")
        await s.expect("error", code="unavailable")
    await s.send(type="message", text="/request_human")
    await s.expect("offline")
    await s.send(type="ticket", email="ada.obi@example.com", text="call 08031234567")
    await s.expect("ticket_saved")
    await s.send_raw("not json ada.obi@example.com")
    await s.expect("error", code="bad_json")
    await s.close()
    await asyncio.sleep(0.3)
    gw.stop()
    log = gw.log.read_text()
    assert "unavailable" in log  # the log is written...
    for secret in SECRETS:  # ...without what the shopper typed
        assert secret not in log
        assert secret.replace(" ", "") not in log
