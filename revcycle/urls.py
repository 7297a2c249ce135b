from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from revcycle import session_views, twofactor, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/session/", session_views.session_status, name="session_status"),
    path("accounts/two-factor/", twofactor.verify, name="twofactor_verify"),
    path("accounts/two-factor/setup/", twofactor.setup, name="twofactor_setup"),
    path("encounters/", views.encounters, name="encounters"),
    path("encounters/<int:pk>/", views.encounter_detail, name="encounter_detail"),
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
    path("admin/", admin.site.urls),
    # Before claims/: the payer app keeps the paths it had inside the claims app.
    path("claims/payer/", include("payer.urls")),
    path("claims/", include("claims.urls")),
    path("eligibility/", include("eligibility.urls")),
    path("smart/", include("smartlink.urls")),
    path("followup/", include("followup.urls")),
]
if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
