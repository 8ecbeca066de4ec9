"""The REST API ``/api/v1`` (django-ninja): API tokens and partner keys, the read routes,
the partner HTTP push, one error format. See docs/api.md.

Modules: :mod:`.api` assembles the :class:`ninja.NinjaAPI`; one router module per domain
(:mod:`.sites`, :mod:`.parameters`, :mod:`.joint_zones`, :mod:`.assessments`,
:mod:`.push`); :mod:`.auth` and :mod:`.errors` are shared by all of them; :mod:`.models`
and :mod:`.services` hold the credentials and the idempotency records."""
