"""The loaded model kept out of the garbage collector's full passes.

Once Rasa has loaded its model, the process holds millions of objects that
live as long as it does (TensorFlow, scikit-learn, Rasa's modules and the
model itself), and every full collection walked all of them: measured in one
process at 10 concurrent conversations, a full pass took about 270 ms (a
stall of every conversation of that process) and the collector used 2.5% of
the CPU. ``gc.freeze()`` after the model loads moves them to a permanent
generation the collector skips; what turns allocate is still collected.
"""
from __future__ import annotations

import gc
from typing import Any


def install() -> None:
    import rasa.core.run

    rasa_load = rasa.core.run.load_agent_on_start

    async def load_agent_on_start(*args: Any, **kwargs: Any) -> Any:
        agent = await rasa_load(*args, **kwargs)
        gc.collect()  # what loading left as garbage goes first, then the rest is frozen
        gc.freeze()
        return agent

    rasa.core.run.load_agent_on_start = load_agent_on_start
