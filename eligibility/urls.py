from django.urls import path

from eligibility import views
from revcycle import batch_views

app_name = "eligibility"
DISCOVERY = {"spec": "discovery"}
urlpatterns = [
    path("", views.home, name="home"),
    path("new/", views.new, name="new"),
    path("export.csv", views.export, name="export"),
    path("lookups/<int:pk>/", views.result, name="result"),
    path("lookups/<int:pk>/check-again/", views.check_again, name="check_again"),
    path("coverages/<int:pk>/apply/", views.apply, name="apply"),
    path("batches/", batch_views.batch_list, DISCOVERY, name="batch_list"),
    path("batches/upload/", batch_views.upload, DISCOVERY, name="batch_upload"),
    path("batches/template.csv", batch_views.template_csv, DISCOVERY, name="batch_template"),
    path("batches/<int:pk>/", batch_views.detail, DISCOVERY, name="batch_detail"),
    path("batches/<int:pk>/invalid-rows.csv", batch_views.row_errors_csv, DISCOVERY,
         name="batch_errors"),
    path("batches/<int:pk>/export.csv", batch_views.export, DISCOVERY, name="batch_export"),
]
