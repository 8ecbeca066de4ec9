"""The raw packet archive (原始报文库) and the idempotency keys of the HJ 212 ingest.

Every packet the gateway receives is archived here with its verdict, framing
errors included (with the bytes).  Rows are written once and never updated:
the archive says what arrived and what the platform decided at that moment.
``gongzhi hj212 replay`` re-runs archived packets through the same pipeline.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Verdict(models.TextChoices):
    ACCEPTED = "accepted", _("已接收")
    DUPLICATE = "duplicate", _("重复报文")
    REJECTED = "rejected", _("已拒绝")
    QUARANTINED = "quarantined", _("已隔离")


class RawPacket(models.Model):
    """One received packet (or one run of bytes that did not frame) and its verdict.

    ``raw`` holds the packet's bytes; for a run of garbage only its first 64
    bytes are kept (``detail`` gives the full size).  ``reason`` is a short code:
    the codec's error code (``bad_crc``, ``truncated`` …) or the pipeline's
    (``unknown_mn``, ``bad_password``, ``device_disabled`` …), see docs/ingest.md.
    """

    id = models.BigAutoField(primary_key=True)
    received = models.DateTimeField(_("接收时间"), db_index=True)
    peer = models.CharField(_("来源地址"), max_length=64, blank=True)
    mn = models.CharField(_("设备 MN"), max_length=32, blank=True)
    qn = models.CharField(_("请求编码 QN"), max_length=32, blank=True)
    cn = models.CharField(_("命令编码 CN"), max_length=8, blank=True)
    pno = models.PositiveIntegerField(_("包号 PNO"), default=0, help_text=_("未拆分报文为 0"))
    raw = models.BinaryField(_("原始字节"))
    verdict = models.CharField(_("处理结论"), max_length=12, choices=Verdict.choices)
    reason = models.CharField(_("原因代码"), max_length=40, blank=True)
    detail = models.TextField(_("说明"), blank=True)
    values_stored = models.IntegerField(_("入库数值数"), default=0)
    values_duplicate = models.IntegerField(_("重复数值数"), default=0)

    class Meta:
        verbose_name = _("原始报文")
        verbose_name_plural = _("原始报文")
        indexes = [
            # packets that need attention (status page, quarantine list): a partial index, so the
            # accepted majority costs no entry in it
            models.Index(fields=["verdict", "received"], name="rawpacket_problem_idx",
                         condition=models.Q(verdict__in=["rejected", "quarantined"])),
            # the last packet of a device (status page) and a device's packets in a range (replay)
            models.Index(fields=["mn", "received"], name="rawpacket_mn_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.received:%Y-%m-%d %H:%M:%S} {self.mn or '-'} {self.cn or '-'} {self.verdict}"


class AcceptedPacket(models.Model):
    """Idempotency key of an accepted packet: (MN, QN, CN, PNO).

    A resend after a lost acknowledgement has the same key: it is archived as
    ``duplicate``, stores nothing and is acknowledged again.  Packets without a
    QN have no key (their values are still deduplicated by the observation
    store's primary key).
    """

    mn = models.CharField(max_length=32)
    qn = models.CharField(max_length=32)
    cn = models.CharField(max_length=8)
    pno = models.PositiveIntegerField(default=0)
    packet_id = models.BigIntegerField(null=True, blank=True)
    accepted = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("已接收报文键")
        verbose_name_plural = _("已接收报文键")
        constraints = [models.UniqueConstraint(fields=["mn", "qn", "cn", "pno"], name="accepted_packet_key_unique")]
