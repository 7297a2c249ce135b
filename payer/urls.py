"""Payer claims (HCMS), mounted at /claims/payer/ by revcycle/urls.py: the paths, and the
webhook URL payers have registered (/claims/payer/webhooks/<id>/), stay as they were when
these views lived in the claims app."""

from django.urls import path

from payer import views, webhooks
from revcycle import batch_views

app_name = "payer"
BULK = {"spec": "payer-claims"}
urlpatterns = [
    path("batches/", batch_views.batch_list, BULK, name="batch_list"),
    path("batches/upload/", batch_views.upload, BULK, name="batch_upload"),
    path("batches/template.csv", batch_views.template_csv, BULK, name="batch_template"),
    path("batches/<int:pk>/", batch_views.detail, BULK, name="batch_detail"),
    path("batches/<int:pk>/invalid-rows.csv", batch_views.row_errors_csv, BULK,
         name="batch_errors"),
    path("batches/<int:pk>/export.csv", batch_views.export, BULK, name="batch_export"),
    path("tickets/<int:pk>/", views.payer_ticket, name="ticket"),
    path("", views.payer_list, name="list"),
    path("export.csv", views.payer_export, name="export"),
    path("new/", views.payer_new, name="new"),
    path("code/", views.payer_code, name="code"),
    path("<int:pk>/", views.payer_detail, name="detail"),
    path("<int:pk>/resend/", views.payer_resend, name="resend"),
    path("<int:pk>/found/", views.payer_found, name="found"),
    path("webhooks/<int:connection_id>/", webhooks.payer_webhook, name="webhook"),
]
