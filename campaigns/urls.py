from django.urls import path

from . import message_views, views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_index, name="list"),
    path("new/", views.campaign_create, name="create"),
    path("preview/", views.audience_preview_json, name="preview"),
    path("playbooks/", views.playbook_index, name="playbooks"),
    path("uplift/", views.uplift_models, name="uplift"),
    path("playbooks/<slug:key>/use/", views.playbook_use, name="playbook_use"),
    path("my-work/", views.my_work, name="my_work"),
    path("tasks/", views.task_queue, name="tasks"),
    path("tasks/<int:pk>/", views.task_update, name="task_update"),
    path("customers/<int:pk>/tasks/", views.customer_task_create, name="customer_task_create"),
    path("customers/<int:pk>/add/", views.customer_campaign_add, name="customer_campaign_add"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("<int:pk>/launch/", views.campaign_launch, name="launch"),
    path("<int:pk>/results/", views.campaign_results, name="results"),
    path("<int:pk>/results/refresh/", views.campaign_results_refresh, name="results_refresh"),
    path("<int:pk>/results.csv", views.campaign_results_csv, name="results_csv"),
    path("<int:pk>/messages/", message_views.campaign_messages_edit, name="messages_edit"),
    path("<int:pk>/messages/preview.json", message_views.campaign_messages_preview_json, name="messages_preview"),
    path("<int:pk>/schedule/", message_views.campaign_schedule, name="schedule"),
    path("<int:pk>/mailing.csv", message_views.campaign_mail_list, name="mail_list"),
    path("outbox/", message_views.outbox_index, name="outbox"),
    path("outbox/<int:pk>/", message_views.outbox_detail, name="outbox_detail"),
]
