from django.urls import path

from annotation import apis

urlpatterns = [
    path("projects/", apis.ProjectListCreateApi.as_view(), name="project-list"),
    path("projects/<int:project_id>/", apis.ProjectDetailApi.as_view(), name="project-detail"),
    path("projects/<int:project_id>/members/", apis.ProjectMembersApi.as_view(), name="project-members"),
    path("projects/<int:project_id>/items/", apis.ProjectItemsApi.as_view(), name="project-items"),
    path(
        "projects/<int:project_id>/ratings/import/",
        apis.ProjectRatingsImportApi.as_view(),
        name="project-ratings-import",
    ),
    path("items/<int:item_id>/", apis.ItemDetailApi.as_view(), name="item-detail"),
    path("items/<int:item_id>/ratings/", apis.ItemRatingsApi.as_view(), name="item-ratings"),
]
