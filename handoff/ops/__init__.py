"""Operations: reports, SLAs and business hours, missed questions, retention.

Synchronous SQLAlchemy (2.0-style queries, running on 1.4 and 2.0) on the
gateway's transcript database, for commands that run outside the gateway's
event loop; settings in ``ops.yml`` (:mod:`handoff.ops.settings`).

* :mod:`~handoff.ops.reports`: figures over a date range, text and CSV;
* :mod:`~handoff.ops.hours`, :mod:`~handoff.ops.sla`: team hours, when people
  are back, first-response deadlines and breaches;
* :mod:`~handoff.ops.missed`: what the assistant did not understand;
* :mod:`~handoff.ops.retention`: anonymise old transcripts;
* :mod:`~handoff.ops.cli`: ``python -m handoff report | missed | retention``.
"""
