"""Notifications in the REST API (``/api/v1/notifications``): the caller's own notifications,
the unread count, mark read. A duty officer's phone app or a bureau's WeCom bot reads these
with the user's API token; nobody sees anyone else's notifications."""

from __future__ import annotations

from typing import Annotated, Any, Optional

from ninja import Field, Query, Router, Schema

from gongzhi.api.common import READ_ERRORS, Page, iso
from gongzhi.notifications import services

router = Router(tags=["notifications"])

MAX_LIMIT = 500


class NotificationOut(Schema):
    id: int
    kind: str
    kind_name: str
    subject: str
    body: str
    subject_en: str
    body_en: str
    link: str
    payload: dict[str, Any]
    ref: str
    urgent: bool
    created: str
    read_at: Optional[str] = None


class ListQuery(Schema):
    unread: bool = False
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=1_000_000)


class UnreadOut(Schema):
    unread: int


NotificationId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class ReadIn(Schema):
    ids: list[NotificationId] = Field(default_factory=list, max_length=1000)
    all: bool = False


class ReadOut(Schema):
    marked: int
    unread: int


def _out(n) -> dict:
    return {
        "id": n.pk, "kind": n.kind, "kind_name": n.kind_label, "subject": n.subject, "body": n.body,
        "subject_en": n.subject_en, "body_en": n.body_en, "link": n.safe_link,
        "payload": n.payload if isinstance(n.payload, dict) else {"value": n.payload},
        "ref": n.ref, "urgent": n.urgent, "created": iso(n.created), "read_at": iso(n.read_at),
    }


@router.get("/notifications", response={200: Page[NotificationOut], **READ_ERRORS}, summary="Your notifications, newest first")
def list_notifications(request, q: Query[ListQuery]):
    qs = services.notifications_for(user=request.auth, unread_only=q.unread)
    total = qs.count()
    items = [_out(n) for n in qs[q.offset:q.offset + q.limit]]
    return {"total": total, "limit": q.limit, "offset": q.offset, "items": items}


@router.get("/notifications/unread-count", response={200: UnreadOut, **READ_ERRORS}, summary="How many of your notifications are unread")
def unread_count(request):
    return {"unread": services.unread_count(user=request.auth)}


@router.post("/notifications/read", response={200: ReadOut, **READ_ERRORS}, summary="Mark your notifications read (ids, or all)")
def mark_read(request, body: ReadIn):
    marked = services.mark_read(user=request.auth, notification_ids="all" if body.all else body.ids)
    return {"marked": marked, "unread": services.unread_count(user=request.auth)}
