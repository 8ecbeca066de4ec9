"""Users in two bureaus for the notification tests."""

from __future__ import annotations

import pytest

from gongzhi.accounts.models import Role, User
from gongzhi.registry import models as reg


@pytest.fixture
def bureaus(db):
    return {
        "qp": reg.Bureau.objects.create(code="qingpu", name="青浦区生态环境局", short_name="青浦"),
        "ks": reg.Bureau.objects.create(code="kunshan", name="昆山市生态环境局", short_name="昆山"),
    }


@pytest.fixture
def people(bureaus):
    def user(name, bureau, email="", phone=""):
        return User.objects.create_user(username=name, password="secret-pass-123", bureau=bureau,
                                        role=Role.EMERGENCY_DUTY_OFFICER, email=email, phone=phone)

    return {
        "qp_duty": user("qp-duty", bureaus["qp"], email="duty@qingpu.example", phone="13800000001"),
        "qp_noemail": user("qp-analyst", bureaus["qp"]),
        "ks_duty": user("ks-duty", bureaus["ks"], email="duty@kunshan.example", phone="13800000002"),
    }
