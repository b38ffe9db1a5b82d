"""The serving layer: nbmock serve's server and worker, TLS, Host checks, log redaction.

Nothing here knows an ArcGIS resource; it runs the app that ``mockserver.app`` builds.
"""
