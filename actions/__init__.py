"""Rasa SDK custom actions for the Kara Healthmall assistant.

``python -m rasa_sdk --actions actions`` imports every submodule of this
package (rasa-sdk walks it recursively), which registers:

* ``action_session_start`` (:mod:`actions.session`)
* ``validate_order_form`` (:mod:`actions.order_form`)
* ``action_handle_order`` (:mod:`actions.orders_action`)
* ``action_call_now`` (:mod:`actions.call_now`)
* ``action_handoff``, ``action_fallback`` (:mod:`actions.handoff_action`)

Policy facts come from :mod:`actions.policy`; the shop database is
:mod:`actions.shop`. Submodules have no import-time side effects (no
database connection until an action runs), so scanning is safe.
"""
