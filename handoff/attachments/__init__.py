"""Files sent in a chat, both ways: shoppers' prescriptions, photos and
receipts, agents' documents.

* :mod:`.content`: what a file really is (by its bytes) and the copy kept
  (images re-encoded without metadata);
* :mod:`.store`: where the bytes are kept (a directory, or an object store);
* :mod:`.rows`: the ``attachments`` table;
* :mod:`.routes`: ``POST /api/attachments`` and ``GET /api/attachments/ID``.
"""
