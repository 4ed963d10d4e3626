"""The agent desk: what agents work on besides live chats.

* :mod:`~handoff.desk.inbox`: the ticket inbox and the agents' ratings, in SQL;
* :mod:`~handoff.desk.tickets_http`: their HTTP routes on the gateway port
  (and the shopper's "email me this conversation").
"""
