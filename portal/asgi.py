"""ASGI entry point: HTTP through Django, websockets through Channels."""

from __future__ import annotations

import os
import threading

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

# daphne does not serve static files; the portal serves its own (small) set.
http_app = (
    ASGIStaticFilesHandler(django_asgi_app) if settings.PORTAL_SERVE_STATIC else django_asgi_app
)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from portal.knowledge.embeddings import start_warm_up  # noqa: E402
from portal.routing import websocket_urlpatterns  # noqa: E402

# The knowledge base's question embedder is loaded now, not by the first question.
start_warm_up()

application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)


def _warm_feishu_events() -> None:
    """Import lark-oapi (seconds of CPU, ~100 MB) when a web process starts, in the background,
    rather than inside the first Feishu delivery it receives: Feishu retries an event whose
    acknowledgement takes over 3 s. Only where the event endpoint is configured."""
    from portal.feishu import conf

    if not (conf.encrypt_key() or conf.verification_token()):
        return

    def load() -> None:
        from portal.feishu.events import dispatcher

        dispatcher()

    threading.Thread(target=load, name="feishu-warm-up", daemon=True).start()


_warm_feishu_events()
