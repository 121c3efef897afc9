"""Anonymous requests carry small bodies only.

Bulk imports need DATA_UPLOAD_MAX_MEMORY_SIZE (512 MB by default), but nobody needs it to sign
in: a request that is signed in by neither a session nor a valid API token and declares a body
larger than ACCORD_ANONYMOUS_MAX_BODY_KB is answered 413 before anything reads the body. Django
reads no body a request does not declare (a chunked upload without Content-Length is read as
empty), so the declared length is the length.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from accounts.authentication import api_token_user


def _signed_in(request: HttpRequest) -> bool:
    if request.user.is_authenticated:
        return True
    scheme, _, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "token" and api_token_user(key.strip()) is not None


class AnonymousBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        limit = settings.ANONYMOUS_MAX_BODY_BYTES
        if declared > limit and not _signed_in(request):
            message = f"Request body too large: sign in to send more than {limit // 1024} KB."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
