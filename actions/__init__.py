"""Rasa SDK custom actions for the Kara Healthmall assistant."""
