"""The web console: FastAPI, server-rendered pages and a JSON API under ``/api``.

``create_app(settings)`` in :mod:`hipec.web.app` builds the application; ``hipec serve`` runs it.
"""
