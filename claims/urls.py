from django.urls import path

from claims import status_views
from revcycle import batch_views

app_name = "claims"
CLAIM_STATUS = {"spec": "claim-status"}
urlpatterns = [
    path("", status_views.status_home, name="status_home"),
    path("status/new/", status_views.status_new, name="status_new"),
    path("status/export.csv", status_views.status_export, name="status_export"),
    path("status/check-again/", status_views.check_again_selected, name="check_again_selected"),
    path("status/<int:pk>/", status_views.status_detail, name="status_detail"),
    path("status/<int:pk>/check-again/", status_views.check_again, name="check_again"),
    path("status/batches/", batch_views.batch_list, CLAIM_STATUS, name="batch_list"),
    path("status/batches/upload/", batch_views.upload, CLAIM_STATUS, name="batch_upload"),
    path("status/batches/template.csv", batch_views.template_csv, CLAIM_STATUS,
         name="batch_template"),
    path("status/batches/<int:pk>/", batch_views.detail, CLAIM_STATUS, name="batch_detail"),
    path("status/batches/<int:pk>/invalid-rows.csv", batch_views.row_errors_csv, CLAIM_STATUS,
         name="batch_errors"),
    path("status/batches/<int:pk>/export.csv", batch_views.export, CLAIM_STATUS,
         name="batch_export"),
]
