"""A shopper talking to the Rasa REST channel, as the gateway does."""
from __future__ import annotations

import json
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass
class RestShopper:
    rasa_url: str
    role: Optional[str] = None
    line: str = "chat"
    sender: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:12]}")

    def say(self, text: str) -> List[Dict[str, Any]]:
        metadata = {"line": self.line, **({"role": self.role} if self.role else {})}
        body = json.dumps({"sender": self.sender, "message": text, "metadata": metadata})
        request = urllib.request.Request(
            f"{self.rasa_url}/webhooks/rest/webhook", data=body.encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def texts(self, text: str) -> str:
        """Everything the bot says back, joined (buttons' titles included)."""
        return "\n".join(_message_text(m) for m in self.say(text))


def _message_text(message: Dict[str, Any]) -> str:
    parts = [message.get("text") or ""]
    parts += [b.get("title", "") for b in message.get("buttons") or []]
    return "\n".join(p for p in parts if p)


def handoffs(messages: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [m["custom"]["handoff"] for m in messages
            if isinstance(m.get("custom"), dict) and "handoff" in m["custom"]]
