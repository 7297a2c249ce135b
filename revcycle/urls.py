from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("claims/", include("claims.urls")),
    path("eligibility/", include("eligibility.urls")),
    path("smart/", include("smartlink.urls")),
]
if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
