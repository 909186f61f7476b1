"""Routes: ``auth_pages`` (login, logout), ``pages`` (HTML), ``api`` (JSON under /api),
``vendor`` (chart library served from its installed package)."""
