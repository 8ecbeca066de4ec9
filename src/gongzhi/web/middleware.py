"""Chinese first: the interface is zh-Hans unless the user chose another language.

Django's LocaleMiddleware follows the browser's Accept-Language header, so a
bureau officer on an English-configured browser would get a half-translated
English interface they never asked for. Here only an explicit choice counts
(the language switch sets the ``django_language`` cookie); everyone else gets
``settings.LANGUAGE_CODE``.
"""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class ChineseFirstLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        supported = {code for code, _ in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
