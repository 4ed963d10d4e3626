"""Emergency on-call paging: POST a JSON page to a configured webhook.

The page body is ``{"type": "page", "conversation_id", "handoff_id", "queue",
"summary", "reason", "waited_s"}`` (no transcript and no contact details); a
page sent again by the SLA watcher (:mod:`handoff.escalation`) adds
``"escalation": "sla_breach"`` (not answered within the emergency target) or
``"requeued"`` (its agent did not answer and it is back in the queue).
The result is one of ``sent`` (2xx), ``failed`` (after two tries) or
``no_webhook`` (none configured); the gateway records it in ``pages``.
"""
from __future__ import annotations

import asyncio
from typing import Any, Dict, Optional, Tuple

import aiohttp

SENT, FAILED, NO_WEBHOOK = "sent", "failed", "no_webhook"


async def post_page(
    url: Optional[str], page: Dict[str, Any], *, timeout_s: float = 5.0, tries: int = 2
) -> Tuple[str, str]:
    """Deliver ``page``; returns (status, detail)."""
    if not url:
        return NO_WEBHOOK, "no page webhook configured"
    detail = ""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for attempt in range(tries):
            try:
                async with session.post(url, json=page) as response:
                    if response.status // 100 == 2:
                        return SENT, f"HTTP {response.status}"
                    detail = f"HTTP {response.status}"
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                detail = type(exc).__name__
            if attempt + 1 < tries:
                await asyncio.sleep(0.5)
    return FAILED, detail
