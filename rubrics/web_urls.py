from django.urls import path

from rubrics.views import builder

urlpatterns = [
    path("rubrics/", builder.rubric_list, name="rubric-list-page"),
    path("rubrics/new/", builder.rubric_new, name="rubric-new"),
    path("rubrics/preview/", builder.rubric_preview, name="rubric-preview"),
    path("rubrics/<int:rubric_id>/v/<int:number>/", builder.rubric_version_page, name="rubric-version-page"),
    path("rubrics/<int:rubric_id>/v/<int:number>/publish/", builder.rubric_publish, name="rubric-publish"),
    path("rubrics/<int:rubric_id>/v/<int:number>/copy/", builder.rubric_copy, name="rubric-copy"),
    path("rubrics/<int:rubric_id>/diff/", builder.rubric_diff, name="rubric-diff-page"),
]
