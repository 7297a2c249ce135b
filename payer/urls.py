"""Payer claims (HCMS), mounted at /claims/payer/ by revcycle/urls.py: the paths, and the
webhook URL payers have registered (/claims/payer/webhooks/<id>/), stay as they were when
these views lived in the claims app."""

from django.urls import path

from payer import views, webhooks

app_name = "payer"
urlpatterns = [
    path("", views.payer_list, name="list"),
    path("export.csv", views.payer_export, name="export"),
    path("new/", views.payer_new, name="new"),
    path("code/", views.payer_code, name="code"),
    path("<int:pk>/", views.payer_detail, name="detail"),
    path("<int:pk>/resend/", views.payer_resend, name="resend"),
    path("<int:pk>/found/", views.payer_found, name="found"),
    path("webhooks/<int:connection_id>/", webhooks.payer_webhook, name="webhook"),
]
