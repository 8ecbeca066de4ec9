"""The access matrix of :mod:`gongzhi.sharing.policy`.

Expected outcomes come from the tables below, written from the rules in the
policy module's docstring; the policy is never asked to produce an expectation.

World (built once per module, rolled back at the end):

* three bureaus of the 嘉昆太 group — Jiading (jd), Kunshan (ks), Taicang (tc) —
  sharing in a ring: jd → ks, ks → tc, tc → jd (each agreement in force, all
  sites and all enterprises, validated data). So from every bureau there is one
  owner it is "owned" by, one it is "shared" with and one "not shared".
* the co-governance office (office), kind ``office``.
* one user per role in each of the four, plus one colleague (viewer) per bureau
  used as the "user" object.
* per bureau: a site, an enterprise with an outlet and a permit limit, a data
  logger on the site and one on the outlet, and the agreement it gives.
* a second group — Qingpu (qp), Wujiang (wj), Jiashan (js) — whose agreements
  exercise dates, the active flag, site/enterprise/parameter restrictions and
  data levels (see ``SCENARIO`` below).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils import timezone

from gongzhi.accounts.models import Role, User
from gongzhi.registry import models as reg
from gongzhi.sharing import policy
from gongzhi.sharing.models import DataLevel, SharingAgreement

pytestmark = pytest.mark.django_db

# --- the rules, as tables --------------------------------------------------------------------------

ADMIN = Role.ADMINISTRATOR.value
MONITORING = Role.MONITORING_STAFF.value
ANALYST = Role.ANALYST.value
ENFORCEMENT = Role.ENFORCEMENT_OFFICER.value
RIVER_CHIEF = Role.RIVER_CHIEF.value
DUTY = Role.EMERGENCY_DUTY_OFFICER.value
VIEWER = Role.VIEWER.value
ROLES = (ADMIN, MONITORING, ANALYST, ENFORCEMENT, RIVER_CHIEF, DUTY, VIEWER)
EVERYONE = frozenset(ROLES)
NOBODY = frozenset()

BUREAUS = ("jd", "ks", "tc")
#: provider → recipient, all in force, all sites, all enterprises.
RING = {("jd", "ks"), ("ks", "tc"), ("tc", "jd")}

OWNED, SHARED, NOT_SHARED = "owned", "shared", "not_shared"
RELATIONS = (OWNED, SHARED, NOT_SHARED)


def relation(user_bureau: str, owner_bureau: str) -> str:
    if user_bureau == owner_bureau:
        return OWNED
    return SHARED if (owner_bureau, user_bureau) in RING else NOT_SHARED


# Which roles of a bureau (not the office) may read / write an object, by the
# object's relation to the user's bureau. For an agreement "owned" means the
# user's bureau is the provider, "shared" that it is the recipient; for a user
# object, the "owner" is the bureau the user belongs to.
#
#  kind              read: owned    shared     not shared   write: owned                 shared  not shared
BUREAU_MATRIX = {
    "site":          ((EVERYONE, EVERYONE, NOBODY), ({ADMIN, MONITORING}, NOBODY, NOBODY)),
    "device_site":   ((EVERYONE, NOBODY, NOBODY), ({ADMIN, MONITORING}, NOBODY, NOBODY)),  # loggers: owners only
    "device_outlet": ((EVERYONE, NOBODY, NOBODY), ({ADMIN, MONITORING}, NOBODY, NOBODY)),
    "enterprise":    ((EVERYONE, EVERYONE, NOBODY), ({ADMIN, ENFORCEMENT}, NOBODY, NOBODY)),
    "outlet":        ((EVERYONE, EVERYONE, NOBODY), ({ADMIN, ENFORCEMENT}, NOBODY, NOBODY)),
    "permit_limit":  ((EVERYONE, EVERYONE, NOBODY), ({ADMIN, ENFORCEMENT}, NOBODY, NOBODY)),
    "agreement":     ((EVERYONE, EVERYONE, NOBODY), ({ADMIN}, NOBODY, NOBODY)),
    "user":          ((EVERYONE, NOBODY, NOBODY), ({ADMIN}, NOBODY, NOBODY)),
}
OWNED_KINDS = tuple(BUREAU_MATRIX)

# The office sees every site and enterprise (and what hangs off them) of every
# bureau, but not their loggers, their users, or agreements it is no party to;
# it changes none of them.
#  kind              read       write
OFFICE_MATRIX = {
    "site":          (EVERYONE, NOBODY),
    "device_site":   (NOBODY, NOBODY),
    "device_outlet": (NOBODY, NOBODY),
    "enterprise":    (EVERYONE, NOBODY),
    "outlet":        (EVERYONE, NOBODY),
    "permit_limit":  (EVERYONE, NOBODY),
    "agreement":     (NOBODY, NOBODY),
    "user":          (NOBODY, NOBODY),
}

#: Region-wide objects: read by every signed-in user, written by office administrators only.
REGION_KINDS = ("waterbody", "reach", "river_node", "jurisdiction", "bureau", "parameter", "alias", "joint_zone")
REGION_WRITERS = {("office", ADMIN)}

#: The model each object kind is, for can_create().
MODEL_OF = {
    "site": reg.Site, "device_site": reg.Device, "device_outlet": reg.Device, "enterprise": reg.Enterprise,
    "outlet": reg.Outlet, "permit_limit": reg.PermitLimit, "agreement": SharingAgreement, "user": User,
}


# --- the world --------------------------------------------------------------------------------------


@dataclass
class World:
    bureaus: dict[str, reg.Bureau] = field(default_factory=dict)
    users: dict[tuple[str, str], User] = field(default_factory=dict)  # (bureau, role) -> user
    objects: dict[str, dict[str, object]] = field(default_factory=dict)  # bureau -> kind -> object
    region: dict[str, object] = field(default_factory=dict)
    superuser: User | None = None
    inactive: User | None = None
    scenario: dict[str, object] = field(default_factory=dict)
    params: dict[str, reg.Parameter] = field(default_factory=dict)


def _bureau(code: str, kind: str = reg.BureauKind.BUREAU) -> reg.Bureau:
    return reg.Bureau.objects.create(code=code, name=f"{code} bureau", short_name=code, kind=kind)


def _user(username: str, bureau: reg.Bureau | None, role: str, **extra) -> User:
    return User.objects.create(username=username, bureau=bureau, role=role, **extra)


def _site(code: str, owner: reg.Bureau) -> reg.Site:
    return reg.Site.objects.create(code=code, name=code, kind=reg.SiteKind.WATER_SECTION, owner=owner, lon=121.0, lat=31.3)


def _enterprise(code: str, owner: reg.Bureau) -> reg.Enterprise:
    return reg.Enterprise.objects.create(code=code, name=code, owner=owner, lon=121.1, lat=31.3)


def _agreement(provider, recipient, *, title="", level=DataLevel.VALIDATED, valid_from=None, valid_to=None,
               all_sites=False, sites=(), all_enterprises=False, enterprises=(), all_parameters=True,
               parameters=(), active=True) -> SharingAgreement:
    a = SharingAgreement.objects.create(
        provider=provider, recipient=recipient, title=title or f"{provider.code}->{recipient.code}", purpose="test",
        level=level, valid_from=valid_from or timezone.localdate() - timedelta(days=30), valid_to=valid_to,
        all_sites=all_sites, all_enterprises=all_enterprises, all_parameters=all_parameters, active=active,
    )
    a.sites.set(sites)
    a.enterprises.set(enterprises)
    a.parameters.set(parameters)
    return a


def build_world() -> World:
    w = World()
    today = timezone.localdate()
    w.params["nh3_n"] = reg.Parameter.objects.create(key="nh3_n", code_2017="w21003", name_zh="氨氮", domain="water")
    w.params["tp"] = reg.Parameter.objects.create(key="tp", code_2017="w21011", name_zh="总磷", domain="water")
    for code in BUREAUS:
        w.bureaus[code] = _bureau(code)
    w.bureaus["office"] = _bureau("office", reg.BureauKind.OFFICE)
    for code, role in itertools.product((*BUREAUS, "office"), ROLES):
        w.users[(code, role)] = _user(f"{code}-{role}", w.bureaus[code], role)
    for code in BUREAUS:
        b = w.bureaus[code]
        site = _site(f"{code}-site", b)
        ent = _enterprise(f"{code}-ent", b)
        outlet = reg.Outlet.objects.create(enterprise=ent, code="DW001", name="outlet", kind="wastewater", lon=121.1, lat=31.3)
        limit = reg.PermitLimit.objects.create(
            outlet=outlet, parameter=w.params["nh3_n"], period="day", limit=5.0, unit="mg/L", standard="GB 18918-2002"
        )
        dev_site = reg.Device.objects.create(mn=f"{code}site0001", password="123456", system_code="21", site=site)
        dev_outlet = reg.Device.objects.create(mn=f"{code}outl0001", password="123456", system_code="32", outlet=outlet)
        colleague = _user(f"{code}-colleague", b, VIEWER)
        w.objects[code] = {
            "site": site, "enterprise": ent, "outlet": outlet, "permit_limit": limit,
            "device_site": dev_site, "device_outlet": dev_outlet, "user": colleague,
        }
    for provider, recipient in sorted(RING):
        w.objects[provider]["agreement"] = _agreement(
            w.bureaus[provider], w.bureaus[recipient], all_sites=True, all_enterprises=True
        )
    # region-wide objects
    juris = reg.Jurisdiction.objects.create(adcode="320583", name="昆山市", level="county")
    water = reg.Waterbody.objects.create(code="wusong", name="吴淞江", kind="river")
    n1 = reg.RiverNode.objects.create(code="n1", lon=121.0, lat=31.3)
    n2 = reg.RiverNode.objects.create(code="n2", lon=121.1, lat=31.3)
    reach = reg.Reach.objects.create(code="r1", waterbody=water, from_node=n1, to_node=n2, length_m=9000, velocity_m_s=0.2)
    zone = reg.JointGovernanceZone.objects.create(code="jkt", name="嘉昆太")
    zone.bureaus.set([w.bureaus[c] for c in BUREAUS])
    alias = reg.ParameterAlias.objects.create(code="vendor-nh3", parameter=w.params["nh3_n"])
    w.region = {
        "waterbody": water, "reach": reach, "river_node": n1, "jurisdiction": juris, "bureau": w.bureaus["ks"],
        "parameter": w.params["tp"], "alias": alias, "joint_zone": zone,
    }
    w.superuser = _user("root", None, VIEWER, is_superuser=True, is_staff=True)
    w.inactive = _user("gone", w.bureaus["office"], ADMIN, is_active=False)

    # --- the scenario group (Qingpu, Wujiang, Jiashan) ---
    s = w.scenario
    for code in ("qp", "wj", "js"):
        s[code] = _bureau(code)
        s[f"{code}-viewer"] = _user(f"{code}-viewer", s[code], VIEWER)
        s[f"{code}-admin"] = _user(f"{code}-admin", s[code], ADMIN)
        for i in (1, 2):
            s[f"{code}-s{i}"] = _site(f"{code}-s{i}", s[code])
            s[f"{code}-e{i}"] = _enterprise(f"{code}-e{i}", s[code])
    s["qp-o1"] = reg.Outlet.objects.create(enterprise=s["qp-e1"], code="DW001", name="o", kind="wastewater", lon=121, lat=31)
    s["qp-o2"] = reg.Outlet.objects.create(enterprise=s["qp-e2"], code="DW001", name="o", kind="wastewater", lon=121, lat=31)
    nh3, tp = w.params["nh3_n"], w.params["tp"]
    # qp → wj: only site s1 and enterprise e1, only NH3-N, validated.
    s["qp>wj restricted"] = _agreement(
        s["qp"], s["wj"], sites=[s["qp-s1"]], enterprises=[s["qp-e1"]], all_parameters=False, parameters=[nh3]
    )
    # qp → wj: everything, raw, but suspended by the provider.
    s["qp>wj inactive"] = _agreement(s["qp"], s["wj"], level=DataLevel.RAW, all_sites=True, all_enterprises=True,
                                     active=False)
    # qp → js: everything, but only from 10 days from now.
    s["qp>js future"] = _agreement(s["qp"], s["js"], all_sites=True, all_enterprises=True,
                                   valid_from=today + timedelta(days=10))
    # wj → js: everything, but it ended 5 days ago.
    s["wj>js expired"] = _agreement(s["wj"], s["js"], all_sites=True, all_enterprises=True,
                                    valid_from=today - timedelta(days=400), valid_to=today - timedelta(days=5))
    # js → qp: every site validated, and site s1 raw for total phosphorus only.
    s["js>qp validated"] = _agreement(s["js"], s["qp"], all_sites=True, all_enterprises=True)
    s["js>qp raw tp"] = _agreement(s["js"], s["qp"], level=DataLevel.RAW, sites=[s["js-s1"]], all_parameters=False,
                                   parameters=[tp])
    # wj → js: in force, but lists a site and an enterprise that belong to Qingpu, not to
    # the provider: a provider cannot give away what it does not own.
    s["wj>js foreign"] = _agreement(s["wj"], s["js"], sites=[s["qp-s2"]], enterprises=[s["qp-e2"]],
                                    title="wj lists qp's objects")
    return w


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The world, created once for the module inside a transaction that is rolled back afterwards
    (each test runs in a savepoint inside it)."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _fresh(obj):
    """The object as a view would load it (no cached relations)."""
    return type(obj).objects.get(pk=obj.pk)


# --- the bureau matrix --------------------------------------------------------------------------------


BUREAU_CASES = [
    pytest.param(ub, role, owner, kind, id=f"{ub}-{role}-{kind}-{relation(ub, owner)}")
    for ub, role, owner, kind in itertools.product(BUREAUS, ROLES, BUREAUS, OWNED_KINDS)
]


@pytest.mark.parametrize(("user_bureau", "role", "owner", "kind"), BUREAU_CASES)
def test_bureau_user_matrix(world, user_bureau, role, owner, kind):
    user = world.users[(user_bureau, role)]
    obj = _fresh(world.objects[owner][kind])
    rel = RELATIONS.index(relation(user_bureau, owner))
    readers, writers = BUREAU_MATRIX[kind]
    assert policy.can_view(user, obj) is (role in readers[rel])
    assert policy.can_change(user, obj) is (role in writers[rel])


OFFICE_CASES = [
    pytest.param(role, owner, kind, id=f"office-{role}-{owner}-{kind}")
    for role, owner, kind in itertools.product(ROLES, BUREAUS, OWNED_KINDS)
]


@pytest.mark.parametrize(("role", "owner", "kind"), OFFICE_CASES)
def test_office_user_matrix(world, role, owner, kind):
    user = world.users[("office", role)]
    obj = _fresh(world.objects[owner][kind])
    readers, writers = OFFICE_MATRIX[kind]
    assert policy.can_view(user, obj) is (role in readers)
    assert policy.can_change(user, obj) is (role in writers)


REGION_CASES = [
    pytest.param(ub, role, kind, id=f"{ub}-{role}-{kind}")
    for ub, role, kind in itertools.product((*BUREAUS, "office"), ROLES, REGION_KINDS)
]


@pytest.mark.parametrize(("user_bureau", "role", "kind"), REGION_CASES)
def test_region_wide_matrix(world, user_bureau, role, kind):
    user = world.users[(user_bureau, role)]
    obj = _fresh(world.region[kind])
    assert policy.can_view(user, obj) is True
    may_write = (user_bureau, role) in REGION_WRITERS
    assert policy.can_change(user, obj) is may_write
    assert policy.can_create(user, type(obj)) is may_write


CREATE_CASES = [
    pytest.param(ub, role, kind, id=f"{ub}-{role}-{kind}")
    for ub, role, kind in itertools.product(BUREAUS, ROLES, ("site", "device_site", "enterprise", "outlet",
                                                             "permit_limit", "agreement", "user"))
]


@pytest.mark.parametrize(("user_bureau", "role", "kind"), CREATE_CASES)
def test_create_matrix(world, user_bureau, role, kind):
    """Creating follows the "owned" write column: for one's own bureau only."""
    user = world.users[(user_bureau, role)]
    model = MODEL_OF[kind]
    may = role in BUREAU_MATRIX[kind][1][RELATIONS.index(OWNED)]
    assert policy.can_create(user, model) is may
    assert policy.can_create(user, model, owner=world.bureaus[user_bureau]) is may
    assert policy.can_create(user, model, owner=world.bureaus[user_bureau].pk) is may
    for other in BUREAUS:
        if other != user_bureau:
            assert policy.can_create(user, model, owner=world.bureaus[other]) is False


def test_everyone_sees_and_only_an_admin_changes_themselves(world):
    for (_, role), user in world.users.items():
        me = _fresh(user)
        assert policy.can_view(user, me)
        assert policy.can_change(user, me) is (role == ADMIN)


def test_a_bureau_administrator_cannot_change_a_superuser_of_their_bureau(world):
    """Changing a superuser's account (its password) would hand a bureau administrator the platform."""
    admin = world.users[("ks", ADMIN)]
    root_in_ks = _user("root-ks", world.bureaus["ks"], VIEWER, is_superuser=True)
    assert policy.can_view(admin, root_in_ks)  # a colleague: visible
    assert policy.can_change(admin, root_in_ks) is False
    assert policy.can_change(world.superuser, root_in_ks) is True


# --- superuser, anonymous, inactive -------------------------------------------------------------------


def _all_objects(world):
    for code in BUREAUS:
        yield from world.objects[code].values()
    yield from world.region.values()
    yield from (u for u in world.users.values())


def test_superuser_may_do_everything(world):
    root = world.superuser
    for obj in _all_objects(world):
        assert policy.can_view(root, obj) and policy.can_change(root, obj), obj
    for model in (*MODEL_OF.values(), reg.Waterbody, reg.Parameter, reg.Bureau):
        assert policy.can_create(root, model, owner=world.bureaus["ks"])
    site = world.objects["ks"]["site"]
    assert policy.data_level(root, site) == DataLevel.RAW
    assert policy.can_view_data(root, site, level=DataLevel.RAW)


@pytest.mark.parametrize("who", ["anonymous", "inactive", "none"])
def test_anonymous_inactive_and_missing_users_may_do_nothing(world, who):
    user = {"anonymous": AnonymousUser(), "inactive": world.inactive, "none": None}[who]
    for obj in _all_objects(world):
        assert not policy.can_view(user, obj), obj
        assert not policy.can_change(user, obj), obj
    for model in (*MODEL_OF.values(), reg.Waterbody):
        assert not policy.can_create(user, model)
        assert not policy.visible(user, model.objects.all()).exists()
    site = world.objects["ks"]["site"]
    assert policy.data_level(user, site) is None
    assert not policy.can_view_data(user, site)


def test_an_inactive_superuser_may_do_nothing(world):
    root = _user("root-retired", None, VIEWER, is_superuser=True, is_active=False)
    site = world.objects["ks"]["site"]
    assert not policy.can_view(root, site)
    assert not policy.can_change(root, site)
    assert not policy.visible(root, reg.Site.objects.all()).exists()
    assert not policy.writable_bureaus(root, reg.Site).exists()
    assert policy.data_level(root, site) is None


# --- agreements: dates, active flag, restrictions, data levels ----------------------------------------


def test_a_restricted_agreement_shares_only_the_listed_sites_and_enterprises(world):
    s = world.scenario
    wj = s["wj-viewer"]
    assert policy.can_view(wj, s["qp-s1"]) and not policy.can_view(wj, s["qp-s2"])
    assert policy.can_view(wj, s["qp-e1"]) and not policy.can_view(wj, s["qp-e2"])
    assert policy.can_view(wj, s["qp-o1"]) and not policy.can_view(wj, s["qp-o2"])
    # Restricted to NH3-N, validated: no total phosphorus, and nothing raw.
    assert policy.data_level(wj, s["qp-s1"], world.params["nh3_n"]) == DataLevel.VALIDATED
    assert policy.data_level(wj, s["qp-s1"], world.params["nh3_n"].pk) == DataLevel.VALIDATED
    assert policy.data_level(wj, s["qp-s1"], world.params["tp"]) is None
    assert policy.data_level(wj, s["qp-s1"]) == DataLevel.VALIDATED  # the site as a whole: some parameter
    assert policy.data_level(wj, s["qp-s2"]) is None
    assert policy.can_view_data(wj, s["qp-s1"], world.params["nh3_n"])
    assert not policy.can_view_data(wj, s["qp-s1"], world.params["nh3_n"], level=DataLevel.RAW)
    assert not policy.can_view_data(wj, s["qp-s1"], world.params["tp"])
    assert policy.can_view_data(wj, s["qp-o1"], world.params["nh3_n"])  # an outlet's data: its enterprise's grant


def test_an_inactive_agreement_shares_nothing(world):
    """qp → wj also has an all-sites raw agreement, suspended: the restricted one alone applies."""
    s = world.scenario
    wj = s["wj-viewer"]
    assert not policy.can_view(wj, s["qp-s2"])
    assert policy.data_level(wj, s["qp-s1"], world.params["nh3_n"]) == DataLevel.VALIDATED
    SharingAgreement.objects.filter(pk=s["qp>wj inactive"].pk).update(active=True)
    assert policy.can_view(wj, s["qp-s2"])
    assert policy.data_level(wj, s["qp-s1"], world.params["nh3_n"]) == DataLevel.RAW


def test_an_agreement_not_yet_in_force_shares_nothing_until_its_first_day(world):
    s = world.scenario
    js = s["js-viewer"]
    start = s["qp>js future"].valid_from
    assert not policy.can_view(js, s["qp-s1"])
    assert policy.data_level(js, s["qp-s1"]) is None
    assert not policy.can_view(js, s["qp-s1"], on=start - timedelta(days=1))
    assert policy.can_view(js, s["qp-s1"], on=start)
    assert policy.data_level(js, s["qp-s1"], on=start) == DataLevel.VALIDATED


def test_an_expired_agreement_shares_nothing_after_its_last_day(world):
    s = world.scenario
    js = s["js-viewer"]
    end = s["wj>js expired"].valid_to
    assert not policy.can_view(js, s["wj-s1"])
    assert not policy.can_view(js, s["wj-e1"])
    assert policy.can_view(js, s["wj-s1"], on=end)  # valid_to is the last day in force
    assert not policy.can_view(js, s["wj-s1"], on=end + timedelta(days=1))
    assert policy.data_level(js, s["wj-s1"], on=end) == DataLevel.VALIDATED
    assert policy.data_level(js, s["wj-s1"], on=end + timedelta(days=1)) is None


def test_the_most_generous_of_several_agreements_wins(world):
    """js → qp: all sites validated, plus site s1 raw for total phosphorus."""
    s = world.scenario
    qp = s["qp-viewer"]
    nh3, tp = world.params["nh3_n"], world.params["tp"]
    expected = {
        ("js-s1", "tp"): DataLevel.RAW,
        ("js-s1", "nh3_n"): DataLevel.VALIDATED,
        ("js-s1", None): DataLevel.RAW,
        ("js-s2", "tp"): DataLevel.VALIDATED,
        ("js-s2", "nh3_n"): DataLevel.VALIDATED,
        ("js-s2", None): DataLevel.VALIDATED,
    }
    params = {"tp": tp, "nh3_n": nh3, None: None}
    for (site, param), level in expected.items():
        assert policy.data_level(qp, s[site], params[param]) == level, (site, param)
        assert policy.can_view_data(qp, s[site], params[param], level=DataLevel.VALIDATED)
        assert policy.can_view_data(qp, s[site], params[param], level=DataLevel.RAW) is (level == DataLevel.RAW)


def test_owner_sees_raw_data_and_strangers_none(world):
    s = world.scenario
    for code in ("qp", "wj", "js"):
        for role in ("viewer", "admin"):
            assert policy.data_level(s[f"{code}-{role}"], s[f"{code}-s1"]) == DataLevel.RAW
            assert policy.can_view_data(s[f"{code}-{role}"], s[f"{code}-e2"], level=DataLevel.RAW)
    # Kunshan has no agreement with the Qingpu group.
    ks = world.users[("ks", ANALYST)]
    assert policy.data_level(ks, s["qp-s1"]) is None
    assert not policy.can_view_data(ks, s["qp-s1"])


def test_region_wide_and_unknown_objects_carry_no_data(world):
    ks = world.users[("ks", ADMIN)]
    assert policy.data_level(ks, world.region["waterbody"]) is None
    assert policy.data_level(ks, world.objects["ks"]["agreement"]) is None


def test_the_office_sees_sites_but_data_only_through_agreements(world):
    office = world.users[("office", ADMIN)]
    site = world.objects["ks"]["site"]
    assert policy.can_view(office, site)
    assert policy.data_level(office, site) is None
    assert not policy.can_view_data(office, site)
    _agreement(world.bureaus["ks"], world.bureaus["office"], level=DataLevel.RAW, sites=[site])
    assert policy.data_level(office, site) == DataLevel.RAW
    assert policy.data_level(office, world.objects["jd"]["site"]) is None


def test_the_ring_shares_validated_data_one_way(world):
    for user_bureau, owner in itertools.product(BUREAUS, BUREAUS):
        user = world.users[(user_bureau, VIEWER)]
        expected = {OWNED: DataLevel.RAW, SHARED: DataLevel.VALIDATED, NOT_SHARED: None}[relation(user_bureau, owner)]
        for kind in ("site", "enterprise", "outlet", "permit_limit", "device_site", "device_outlet"):
            assert policy.data_level(user, world.objects[owner][kind]) == expected, (user_bureau, owner, kind)


def test_a_provider_cannot_share_what_it_does_not_own(world):
    """wj → js lists Qingpu's site s2 and enterprise e2; Jiashan must not see them through it."""
    s = world.scenario
    js = s["js-viewer"]
    assert not policy.can_view(js, s["qp-s2"])
    assert not policy.can_view(js, s["qp-e2"])
    assert not policy.can_view(js, s["qp-o2"])
    assert policy.data_level(js, s["qp-s2"]) is None
    assert not policy.visible(js, reg.Site.objects.filter(pk=s["qp-s2"].pk)).exists()
    assert not policy.visible(js, reg.Enterprise.objects.filter(pk=s["qp-e2"].pk)).exists()
    assert not policy.visible(js, reg.Outlet.objects.filter(pk=s["qp-o2"].pk)).exists()


def test_agreements_are_visible_to_their_two_parties_whatever_their_state(world):
    s = world.scenario
    for key in ("qp>wj inactive", "qp>js future", "wj>js expired"):
        agreement = s[key]
        provider, recipient = agreement.provider.code, agreement.recipient.code
        for code in ("qp", "wj", "js"):
            assert policy.can_view(s[f"{code}-viewer"], agreement) is (code in (provider, recipient)), (key, code)
            assert policy.can_change(s[f"{code}-admin"], agreement) is (code == provider), (key, code)


# --- visible() gives the same answer as can_view() ---------------------------------------------------

VISIBLE_MODELS = (
    reg.Site, reg.Enterprise, reg.Outlet, reg.PermitLimit, reg.Device, SharingAgreement, User,
    reg.Waterbody, reg.Reach, reg.RiverNode, reg.Jurisdiction, reg.Bureau, reg.Parameter, reg.ParameterAlias,
    reg.JointGovernanceZone,
)


def _everyone(world):
    people = dict(world.users)
    for key, value in world.scenario.items():
        if isinstance(value, User):
            people[("scenario", key)] = value
    people[("root", "")] = world.superuser
    people[("inactive", "")] = world.inactive
    return people


def test_the_world_has_every_kind_of_case(world):
    """Guard for the property below: it is only as good as the variety of the world."""
    assert SharingAgreement.objects.filter(active=False).exists()
    today = timezone.localdate()
    assert SharingAgreement.objects.filter(valid_from__gt=today).exists()
    assert SharingAgreement.objects.filter(valid_to__lt=today).exists()
    assert SharingAgreement.objects.filter(all_sites=False, sites__isnull=False).exists()
    assert SharingAgreement.objects.filter(all_parameters=False).exists()


@pytest.mark.parametrize("model", VISIBLE_MODELS, ids=lambda m: m.__name__)
def test_visible_agrees_with_can_view_for_every_user_and_object(world, model):
    everything = list(model.objects.all())
    assert everything
    mismatches = []
    for key, user in [*_everyone(world).items(), (("anonymous", ""), AnonymousUser())]:
        by_query = set(policy.visible(user, model.objects.all()).values_list("pk", flat=True))
        by_object = {o.pk for o in everything if policy.can_view(user, o)}
        if by_query != by_object:
            mismatches.append((key, sorted(by_query - by_object), sorted(by_object - by_query)))
    assert mismatches == []


@pytest.mark.parametrize("model", (reg.Site, reg.Enterprise, reg.Outlet), ids=lambda m: m.__name__)
def test_visible_agrees_with_can_view_on_another_day(world, model):
    day = world.scenario["qp>js future"].valid_from
    everything = list(model.objects.all())
    for user in _everyone(world).values():
        by_query = set(policy.visible(user, model.objects.all(), on=day).values_list("pk", flat=True))
        assert by_query == {o.pk for o in everything if policy.can_view(user, o, on=day)}, user


def test_visible_returns_each_object_once(world):
    """Joins over agreements must not repeat a site shared by two agreements."""
    qp = world.scenario["qp-viewer"]
    pks = list(policy.visible(qp, reg.Site.objects.all()).values_list("pk", flat=True))
    assert len(pks) == len(set(pks))
    assert world.scenario["js-s1"].pk in pks


# --- writable_bureaus ---------------------------------------------------------------------------------


WRITABLE_CASES = [
    pytest.param(ub, role, kind, id=f"{ub}-{role}-{kind}")
    for ub, role, kind in itertools.product(("ks", "office"), ROLES, ("site", "enterprise", "agreement", "user"))
]


@pytest.mark.parametrize(("user_bureau", "role", "kind"), WRITABLE_CASES)
def test_writable_bureaus_is_the_own_bureau_for_writers(world, user_bureau, role, kind):
    user = world.users[(user_bureau, role)]
    writers = BUREAU_MATRIX[kind][1][RELATIONS.index(OWNED)]
    got = set(policy.writable_bureaus(user, MODEL_OF[kind]).values_list("code", flat=True))
    assert got == ({user_bureau} if role in writers else set())


def test_writable_bureaus_for_superusers_and_strangers(world):
    every = set(reg.Bureau.objects.values_list("code", flat=True))
    assert set(policy.writable_bureaus(world.superuser, reg.Site).values_list("code", flat=True)) == every
    assert not policy.writable_bureaus(AnonymousUser(), reg.Site).exists()
    assert not policy.writable_bureaus(world.inactive, reg.Waterbody).exists()
