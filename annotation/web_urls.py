from django.urls import path

from annotation.views import annotate, home, imports, members, project_new, review, rubric_pin, settings

urlpatterns = [
    path("", home.home, name="home"),
    path("projects/new/", project_new.project_new, name="project-new"),
    path("projects/<int:project_id>/members/", members.project_members, name="project-members"),
    path("invitations/", members.my_invitations, name="my-invitations"),
    path("projects/<int:project_id>/rubric/", rubric_pin.project_rubric, name="project-rubric"),
    path("projects/<int:project_id>/import/", imports.import_page, name="project-import"),
    path("projects/<int:project_id>/import/upload/", imports.import_upload, name="project-import-upload"),
    path("projects/<int:project_id>/import/<int:job_id>/", imports.import_job, name="project-import-job"),
    path(
        "projects/<int:project_id>/import/<int:job_id>/<str:action>/",
        imports.import_job_go,
        name="project-import-go",
    ),
    path("invitations/<int:invitation_id>/answer/", members.invitation_answer, name="invitation-answer"),
    path("projects/<int:project_id>/annotate/", annotate.annotate, name="annotate"),
    path("projects/<int:project_id>/annotate/<int:item_id>/", annotate.annotate_item, name="annotate-item"),
    path("projects/<int:project_id>/annotate/<int:item_id>/skip/", annotate.annotate_skip, name="annotate-skip"),
    path("projects/<int:project_id>/annotate/<int:item_id>/unskip/", annotate.annotate_unskip, name="annotate-unskip"),
    path("projects/<int:project_id>/settings/", settings.project_settings, name="project-settings"),
    path("projects/<int:project_id>/review/", review.review, name="review"),
    path("projects/<int:project_id>/review/<int:item_id>/", review.review_gold, name="review-gold"),
    path(
        "projects/<int:project_id>/review/<int:item_id>/send-back/",
        review.review_send_back,
        name="review-send-back",
    ),
]
