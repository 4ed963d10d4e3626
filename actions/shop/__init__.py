"""The shop database the assistant reads orders from and files requests into.

``models`` is the schema, ``db`` the engine and sessions (``KARA_SHOP_DB_URL``),
``orders`` looks orders up, verifies the asker and files support requests,
``seed`` loads demo data (``python -m actions.shop.seed``). See ``SCHEMA.md``.
"""
