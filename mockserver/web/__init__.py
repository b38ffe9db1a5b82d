"""The web layer every flavour shares: ArcGIS wire conventions, the operation pipeline,
the HTML directory and its forms, and what a browser is sent.

It knows no resource of its own; the rooms (runtimes, auth, ...) declare their views on it.
"""
