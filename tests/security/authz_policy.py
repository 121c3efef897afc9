"""Who may do what, for the authorization matrix (tests/security/test_authz_matrix.py).

Written down from the README's "who may do what", not read off the code: POLICY (a table of paths
and methods) says which relations to a request's project may call each operation of the OpenAPI
schema, MAY_SEE which markers of tests/security/world.py each role may read.
"""

from dataclasses import dataclass

# Relations of a caller to what a request is about.
ANON, USER, STAFF = "anonymous", "signed-in user", "staff"
OUTSIDER, ANNOTATOR, REVIEWER, MANAGER, AUTHOR = "outsider", "annotator", "reviewer", "manager", "rubric author"

ANYONE = frozenset({ANON, USER, OUTSIDER, ANNOTATOR, REVIEWER, MANAGER, AUTHOR, STAFF})
SIGNED_IN = ANYONE - {ANON}
RATE = frozenset({ANNOTATOR, REVIEWER, MANAGER, STAFF})
REVIEW = frozenset({REVIEWER, MANAGER, STAFF})
MANAGE = frozenset({MANAGER, STAFF})
STAFF_ONLY = frozenset({STAFF})
NOBODY = frozenset()
RUBRIC_READERS = RATE | {AUTHOR}  # members of a project that uses it, its author, staff
RUBRIC_WRITERS = frozenset({AUTHOR, STAFF})


@dataclass(frozen=True)
class Rule:
    allowed: frozenset
    # "project": the caller's role in the project the path (or body) names; "global": signed in or staff.
    scope: str = "project"


P = "/api/v1"

# The names the table below gives the rules. The first three are global (signed in or staff); the
# others are the caller's relation to the project the path (or body) names.
RULES = {
    "anyone": Rule(ANYONE, "global"),
    "signed_in": Rule(SIGNED_IN, "global"),
    "staff_only": Rule(STAFF_ONLY, "global"),
    "rate": Rule(RATE),
    "review": Rule(REVIEW),
    "manage": Rule(MANAGE),
    "rubric_readers": Rule(RUBRIC_READERS),
    "rubric_writers": Rule(RUBRIC_WRITERS),
}


def policy_table(table: str) -> dict[tuple[str, str], Rule]:
    """``{(method, path template): Rule}`` from a table of one row a path (below ``P``), one column a
    method and a name of RULES in each cell; ``-`` where the schema has no such operation."""
    header, *rows = [line for line in table.strip().splitlines() if not line.lstrip().startswith("#")]
    methods = header.split()
    policy = {}
    for row in rows:
        path, *cells = row.split()
        assert len(cells) == len(methods), row
        for method, cell in zip(methods, cells, strict=True):
            if cell != "-":
                policy[(method, f"{P}/{path}")] = RULES[cell]
    return policy


POLICY: dict[tuple[str, str], Rule] = policy_table(
    """
                                                GET             POST            PUT             PATCH
health/                                         anyone          -               -               -
auth/token/                                     -               anyone          -               -
users/me/                                       signed_in       -               -               -
users/                                          -               staff_only      -               -
# Issue 16: your own tokens and "sign out everywhere"; staff deactivate and reactivate accounts.
users/me/tokens/                                signed_in       -               -               -
users/me/tokens/{token_id}/revoke/              -               signed_in       -               -
users/me/revoke/                                -               signed_in       -               -
users/{user_id}/deactivate/                     -               staff_only      -               -
users/{user_id}/reactivate/                     -               staff_only      -               -
# Rubrics: visible to the members of a project using them and to their author; edited by
# their author (or the change_rubric permission) and staff; created by staff (or add_rubric).
rubrics/                                        signed_in       staff_only      -               -
rubrics/from-template/                          -               staff_only      -               -
rubric-templates/                               signed_in       -               -               -
rubrics/{rubric_id}/                            rubric_readers  -               rubric_writers  rubric_writers
rubrics/{rubric_id}/versions/                   rubric_readers  -               -               -
rubrics/{rubric_id}/versions/{number}/          rubric_readers  -               -               -
rubrics/{rubric_id}/versions/{number}/publish/  -               rubric_writers  -               -
rubrics/{rubric_id}/versions/{number}/copy/     -               rubric_writers  -               -
rubrics/{rubric_id}/diff/                       rubric_readers  -               -               -
# Projects: listed to their members; created by staff (or add_project); managed by managers.
projects/                                       signed_in       staff_only      -               -
projects/{project_id}/                          rate            -               -               manage
projects/{project_id}/members/                  manage          manage          -               -
# Issue 16, point 9: managers invite and remove; the invited person answers their own invitation.
projects/{project_id}/members/{user_id}/remove/ -               manage          -               -
projects/{project_id}/invitations/              manage          manage          -               -
projects/{project_id}/invitations/{invitation_id}/cancel/ -     manage          -               -
invitations/                                    signed_in       -               -               -
invitations/{invitation_id}/accept/             -               signed_in       -               -
invitations/{invitation_id}/decline/            -               signed_in       -               -
# Items and ratings: every member rates; annotators see only their own ratings (checked by markers).
projects/{project_id}/items/                    rate            manage          -               -
projects/{project_id}/ratings/import/           -               manage          -               -
items/{item_id}/                                rate            -               -               -
items/{item_id}/ratings/                        rate            rate            -               -
items/{item_id}/ratings/mine/                   rate            -               -               rate
items/{item_id}/draft/                          rate            -               rate            -
projects/{project_id}/queue/next/               -               rate            -               -
projects/{project_id}/queue/skip/               -               rate            -               -
projects/{project_id}/queue/unskip/             -               rate            -               -
# Review, agreement, approval: reviewers and managers read and decide; managers change the policy.
projects/{project_id}/review/                   review          -               -               -
items/{item_id}/gold/                           -               review          -               -
items/{item_id}/send-back/                      -               review          -               -
items/{item_id}/reject/                         -               review          -               -
items/{item_id}/send-to-review/                 -               review          -               -
items/{item_id}/reopen/                         -               review          -               -
projects/{project_id}/agreement/                review          -               -               -
projects/{project_id}/agreement/items/          review          -               -               -
projects/{project_id}/approval-policy/          review          -               -               manage
projects/{project_id}/approval-policy/preview/  -               manage          -               -
projects/{project_id}/approval/refresh/         -               manage          -               -
projects/{project_id}/trust/refresh/            -               manage          -               -
# Added while this matrix was written: an aggregate of decisions, like agreement.
projects/{project_id}/reports/failure-modes/    review          -               -               -
# Judge-first triage: the quality estimate and its audit sample are read like agreement; managers draw.
projects/{project_id}/estimate/                 review          -               -               -
projects/{project_id}/audit/                    review          manage          -               -
projects/{project_id}/routing/                  review          -               -               -
projects/{project_id}/routing/threshold/        -               manage          -               -
projects/{project_id}/posterior/fit/            -               manage          -               -
# Judges: every member sees them and their runs; managers create, change, start and cancel.
judges/                                         signed_in       manage          -               -
judges/{judge_id}/                              rate            -               manage          manage
judges/{judge_id}/test/                         -               manage          -               -
projects/{project_id}/judge-runs/               rate            manage          -               -
judge-runs/{run_id}/                            rate            -               -               -
judge-runs/{run_id}/cancel/                     -               manage          -               -
# Budgets: the cost estimate and resuming a run are managers'; the month's spend is read like agreement.
judges/{judge_id}/estimate/                     -               manage          -               -
judge-runs/{run_id}/resume/                     -               manage          -               -
projects/{project_id}/judge-budget/             review          -               manage          manage
# Export: managers and staff only.
projects/{project_id}/export/                   manage          -               -               -
projects/{project_id}/export/manifest/          manage          -               -               -
projects/{project_id}/export/snapshots/         -               manage          -               -
export-snapshots/{snapshot_id}/                 manage          -               -               -
export-snapshots/{snapshot_id}/download/        manage          -               -               -
"""
)

# What each role may read: the markers of tests/security/world.py, by role.
ALL_MARKERS = (
    "SECRET-A",
    "SECRET-B",
    "OWN-A-ann",
    "OWN-B-ann",
    "PEER-A-",
    "PEER-B-",
    "DRAFT-A-ann",
    "DRAFT-A-rev",
    "DRAFT-B-ann",
)
MAY_SEE = {
    "anonymous": set(),
    "annotator_a": {"SECRET-A", "OWN-A-ann", "DRAFT-A-ann"},
    "annotator_b": {"SECRET-B", "OWN-B-ann", "DRAFT-B-ann"},
    "reviewer_a": {"SECRET-A", "OWN-A-ann", "PEER-A-", "DRAFT-A-rev"},
    "manager_a": {"SECRET-A", "OWN-A-ann", "PEER-A-"},
    "manager_b": {"SECRET-B", "OWN-B-ann", "PEER-B-"},
    "staff": {"SECRET-A", "SECRET-B", "OWN-A-ann", "OWN-B-ann", "PEER-A-", "PEER-B-"},
}
SECRET_SHAPES = ("md5$", "pbkdf2_", "argon2", "bcrypt")
