from django.urls import path

from annotation.views import annotate, home, review

urlpatterns = [
    path("", home.home, name="home"),
    path("projects/<int:project_id>/annotate/", annotate.annotate, name="annotate"),
    path("projects/<int:project_id>/annotate/<int:item_id>/submit/", annotate.annotate_submit, name="annotate-submit"),
    path("projects/<int:project_id>/annotate/<int:item_id>/skip/", annotate.annotate_skip, name="annotate-skip"),
    path("projects/<int:project_id>/review/", review.review, name="review"),
    path("projects/<int:project_id>/review/<int:item_id>/", review.review_gold, name="review-gold"),
]
