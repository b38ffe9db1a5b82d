"""The Portal's notebook items, ``/<context>/sharing/rest/content/items/<id>``, in both flavours.

The official client passes an ``Item`` (``gis.content.get(id)``) to ``execute_notebook``
and ``open_notebook``, so the Portal serves the notebook items the control plane seeded.
"""

from __future__ import annotations

from flask import Blueprint

from mockserver.auth.guard import sees_every_user, signed_in_user
from mockserver.core import deployment, messages
from mockserver.core.errors import ArcGISError
from mockserver.web.pipeline import Page, operation

items = Blueprint("items", __name__)


@operation(items, "/content/items/<item_id>", name="item", title="Item")
def item(item_id: str):
    """A notebook item [doc: the item resource's keys; only type Notebook is emulated]. Its
    owner and administrators see it; anyone else gets the Portal's not-found answer
    [capture: "Item does not exist or is inaccessible.", code 400]."""
    viewer = signed_in_user()
    found = deployment.current().workload.item(item_id)
    if found is None or not (found.owner == viewer.username or sees_every_user(viewer)):
        raise _ItemInaccessible(messages.ITEM_INACCESSIBLE[0], code=400)
    payload = {
        "id": found.id,
        "owner": found.owner,
        "created": found.created,
        "modified": found.created,
        "title": found.title,
        "type": found.type,
        "typeKeywords": ["Notebook", "Python"],
        "access": "private",
        "url": None,
    }
    return Page(payload, title=f"Item: {found.title}")


class _ItemInaccessible(ArcGISError):
    code = 400
    portal_form = messages.ITEM_INACCESSIBLE
