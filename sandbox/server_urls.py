"""The URLs of a sandbox-only process (sandbox.server_settings): the sandbox's machine
endpoints at the paths the app serves them, /sandbox/..., without the desk page."""

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, HttpResponseServerError
from django.urls import include, path

from sandbox import urls

# The desk is a page for a signed-in admin; this process has no sessions to sign in with.
machine_patterns = [p for p in urls.urlpatterns if getattr(p, "name", "") != "smart-desk"]

urlpatterns = [path("sandbox/", include((machine_patterns, urls.app_name)))]


# The app's error pages extend its base template, which links to pages this process does
# not serve: a path that is not here would fail again while rendering its 404.
def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return HttpResponseNotFound("Not Found", content_type="text/plain")


def server_error(request: HttpRequest) -> HttpResponse:
    return HttpResponseServerError("Server Error", content_type="text/plain")


handler404 = "sandbox.server_urls.not_found"
handler500 = "sandbox.server_urls.server_error"
