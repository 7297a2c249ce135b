"""Payer claims (HCMS) URL patterns, added to the `claims` namespace by claims/urls.py."""

from django.urls import path

from claims import payer_views, webhooks

urlpatterns = [
    path("payer/", payer_views.payer_list, name="payer_list"),
    path("payer/export.csv", payer_views.payer_export, name="payer_export"),
    path("payer/new/", payer_views.payer_new, name="payer_new"),
    path("payer/code/", payer_views.payer_code, name="payer_code"),
    path("payer/<int:pk>/", payer_views.payer_detail, name="payer_detail"),
    path("payer/<int:pk>/resend/", payer_views.payer_resend, name="payer_resend"),
    path("payer/<int:pk>/found/", payer_views.payer_found, name="payer_found"),
    path("payer/webhooks/<int:connection_id>/", webhooks.payer_webhook, name="payer_webhook"),
]
