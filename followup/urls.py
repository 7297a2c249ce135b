from django.urls import path

from followup import views

app_name = "followup"
urlpatterns = [
    path("", views.worklist_view, name="worklist"),
    path("export.csv", views.worklist_export, name="worklist_export"),
    path("actions/", views.act, name="act"),
    path("views/", views.save_view, name="save_view"),
    path("views/<int:pk>/delete/", views.delete_view, name="delete_view"),
    path("accounts/<int:encounter_id>/", views.account, name="account"),
    path("accounts/<int:encounter_id>/notes/", views.add_note, name="add_note"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/<slug:name>.csv", views.dashboard_csv, name="dashboard_csv"),
    path("rechecks/", views.recheck_policy, name="recheck_policy"),
    path("settings/", views.my_settings, name="my_settings"),
]
