"""Serving: REST API, the recording page, and age-aware recommendations."""
