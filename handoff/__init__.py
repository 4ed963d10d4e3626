"""Kara Support Chat handoff gateway: websockets in front of Rasa and human agents."""
