from django.urls import path

from annotation.apis import members, projects, queue, ratings, review

urlpatterns = [
    path("projects/", projects.ProjectListCreateApi.as_view(), name="project-list"),
    path("projects/<int:project_id>/", projects.ProjectDetailApi.as_view(), name="project-detail"),
    path("projects/<int:project_id>/members/", members.ProjectMembersApi.as_view(), name="api-project-members"),
    path(
        "projects/<int:project_id>/members/<int:user_id>/remove/",
        members.MemberRemoveApi.as_view(),
        name="api-member-remove",
    ),
    path(
        "projects/<int:project_id>/invitations/",
        members.ProjectInvitationsApi.as_view(),
        name="api-project-invitations",
    ),
    path(
        "projects/<int:project_id>/invitations/<int:invitation_id>/cancel/",
        members.InvitationCancelApi.as_view(),
        name="api-invitation-cancel",
    ),
    path("invitations/", members.MyInvitationsApi.as_view(), name="api-my-invitations"),
    path("invitations/<int:invitation_id>/accept/", members.InvitationAcceptApi.as_view(), name="api-accept"),
    path(
        "invitations/<int:invitation_id>/decline/",
        members.InvitationDeclineApi.as_view(),
        name="api-decline",
    ),
    # projects/<id>/items/ (import, and the list with decisions) is routed by quality/urls.py.
    path(
        "projects/<int:project_id>/ratings/import/",
        ratings.ProjectRatingsImportApi.as_view(),
        name="project-ratings-import",
    ),
    path("projects/<int:project_id>/queue/next/", queue.QueueNextApi.as_view(), name="queue-next"),
    path("projects/<int:project_id>/queue/skip/", queue.QueueSkipApi.as_view(), name="queue-skip"),
    path("projects/<int:project_id>/queue/unskip/", queue.QueueUnskipApi.as_view(), name="queue-unskip"),
    path("projects/<int:project_id>/review/", review.ProjectReviewApi.as_view(), name="project-review"),
    path("items/<int:item_id>/ratings/", ratings.ItemRatingsApi.as_view(), name="item-ratings"),
    path("items/<int:item_id>/ratings/mine/", ratings.ItemMyRatingApi.as_view(), name="item-rating-mine"),
    path("items/<int:item_id>/draft/", ratings.ItemDraftApi.as_view(), name="item-draft"),
    path("items/<int:item_id>/gold/", review.ItemGoldApi.as_view(), name="item-gold"),
    path("items/<int:item_id>/send-back/", review.ItemSendBackApi.as_view(), name="item-send-back"),
]
