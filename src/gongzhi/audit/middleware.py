from gongzhi.audit.context import acting_as


class AuditActorMiddleware:
    """Makes the logged-in user the actor of every audited change made during a request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user if getattr(request, "user", None) and request.user.is_authenticated else None
        via = "admin" if request.path.startswith("/admin/") else "web"
        with acting_as(user, via=via):
            return self.get_response(request)
