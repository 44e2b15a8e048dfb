"""ASGI entry point: HTTP through Django (Feishu event deliveries beside it), websockets
through Channels."""

from __future__ import annotations

import gc
import os
import threading

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from portal.feishu.asgi import FeishuEventsApp  # noqa: E402

# daphne does not serve static files; the portal serves its own (small) set.
http_app = (
    ASGIStaticFilesHandler(django_asgi_app) if settings.PORTAL_SERVE_STATIC else django_asgi_app
)
# Feishu's deliveries are acknowledged beside Django, on threads of their own.
http_app = FeishuEventsApp(http_app)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from portal.core import gcpacer  # noqa: E402
from portal.core.warmup import start_warm_up as warm_pages  # noqa: E402
from portal.feishu.events import start_warm_up as warm_feishu_events  # noqa: E402
from portal.knowledge.embeddings import start_warm_up as warm_knowledge_base  # noqa: E402
from portal.routing import websocket_urlpatterns  # noqa: E402

# Slow first-use loads happen now, in the background, not inside the first request:
# the templates, translations and URLs of the pages, the knowledge base's question
# embedder, and lark-oapi for the Feishu event endpoint.
warm_ups = [t for t in (warm_pages(), warm_knowledge_base(), warm_feishu_events()) if t is not None]


def _freeze_after_warm_up() -> None:
    """Move what start-up built (Django, lark-oapi's thousands of classes, the embedder) out of
    the garbage collector's sight. A web process holds some million long-lived objects; every
    full collection walked them all, stopping every request of the process for about half
    a second, in the middle of a burst of Feishu deliveries."""
    for thread in warm_ups:
        thread.join(timeout=120)
    gc.collect()
    gc.freeze()
    if settings.PORTAL_GC_PACER:
        gcpacer.start()  # full collections no longer start inside an acknowledgement


threading.Thread(target=_freeze_after_warm_up, name="gc-freeze", daemon=True).start()

application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
