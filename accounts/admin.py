from django.contrib import admin
from rest_framework.authtoken.models import TokenProxy

# DRF's token admin shows every key, in its list, its breadcrumbs and its messages, and a key on a
# page is readable by any script that runs there. Tokens are obtained by their owner from
# /api/v1/auth/token/; to revoke one, `manage.py drf_create_token -r <username>` replaces it.
admin.site.unregister(TokenProxy)
